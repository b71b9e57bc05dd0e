"""The Double-Win paper's figures (Fig. 3-7, A8, A9) and tables (A2, extreme double-win sparsity)."""

import numpy as np
import pandas as pd

from . import metrics
from . import plot_style as style
from .plot_style import plt, sns


def transfer_curves(table_path, out, title, curve_of, dense_of, colors, style_of, panel_set=metrics.PANELS):
    """Rows: ST-SA, AT-SA, AT-RA (AT-SA of the best-RA checkpoint), or the panels of `panel_set`; columns:
    (dataset, data). A curve per ticket family, mean +- std over seeds; the dense reference as a band;
    filled markers = matching (within one dense std). A column whose runs have panels of one kind only
    (segmentation) fills its rows from the top; a panel without runs stays empty."""
    match = metrics.matching(pd.read_csv(table_path), panel_set)
    cols = sorted(match[["dataset", "data"]].drop_duplicates().itertuples(index=False, name=None),
                  key=lambda c: (c[0], c[1] != "full", c[1]))
    order = [p for _, _, p in panel_set]
    shown = {col: sorted(set(match[(match["dataset"] == col[0]) & (match["data"] == col[1])]["panel"]), key=order.index)
             for col in cols}
    fig, axes = style.grid(max(shown.values(), key=len), cols)
    for c, col in enumerate(cols):
        ds, data = col
        for r in range(len(shown[col]), len(axes)):
            axes[r][c].set_visible(False)
        for r, panel in enumerate(shown[col]):
            ax = axes[r][c]
            sub = match[(match["panel"] == panel) & (match["dataset"] == ds) & (match["data"] == data)]
            for key, dense in sub[sub["pruner"] == "dense"].groupby("init"):
                m, s = float(dense["mean"].iloc[0]), float(dense["std"].iloc[0])
                color = colors[dense_of(key)]
                ax.axhspan(m - s, m + s, color=color, alpha=0.12, lw=0)
                ax.axhline(m, color=color, lw=0.8, ls=":", label=f"dense ({key})")
            for (init, pruner), pts in sub[sub["pruner"] != "dense"].groupby(["init", "pruner"]):
                pts = pts.sort_values("sparsity")
                label, color = curve_of(init, pruner), colors[curve_of(init, pruner)]
                ls, marker = style_of(pruner)
                ax.errorbar(100 * pts["sparsity"], pts["mean"], yerr=pts["std"], color=color, ls=ls, lw=1.2,
                            capsize=2, label=label)
                for hit, face in ((True, color), (False, "white")):
                    part = pts[pts["matching"] == hit]
                    ax.scatter(100 * part["sparsity"], part["mean"], facecolor=face, edgecolor=color, s=26,
                               zorder=3, marker=marker)
            ax.set_title(f"{ds}{'' if data == 'full' else f' ({data})'}: {metrics.PANEL_TITLES.get(panel, panel)}")
            ax.set_xlabel("sparsity (%)")
            ax.set_ylabel(f"{panel.split('-', 1)[1]} (%)")
    style.finish(fig, axes, title)
    style.save(fig, out)


def fig3(table_path, out, title=""):
    inits = style.ordered(pd.read_csv(table_path)["init"], list(style.INIT_LABEL))
    labels = [style.INIT_LABEL.get(i, i) for i in inits] + [f"random pruning ({i})" for i in inits]
    colors = style.palette(labels)

    def curve(init, pruner):
        return style.INIT_LABEL.get(init, init) if pruner == "imp_st" else f"random pruning ({init})"

    transfer_curves(table_path, out, f"Figure 3: tickets from three pre-trainings {title}", curve,
                    lambda init: style.INIT_LABEL.get(init, init), colors,
                    lambda p: ("-", "o") if p == "imp_st" else ("--", "s"))


def fig4(table_path, out, title=""):
    colors = style.palette(list(style.PRUNER_LABEL.values()) + ["dense"])
    styles = {"imp_st": ("-", "o"), "imp_at": ("-", "^"), "omp": ("-.", "D"), "random": ("--", "s")}
    transfer_curves(table_path, out, f"Figure 4: pruning methods on adversarial pre-training {title}",
                    lambda init, pruner: style.PRUNER_LABEL[pruner], lambda init: "dense", colors, styles.get)


def fig5(table_path, out, title=""):
    inits = style.ordered(pd.read_csv(table_path)["init"], list(style.INIT_LABEL))
    colors = style.palette([style.INIT_LABEL.get(i, i) for i in inits])
    transfer_curves(table_path, out, f"Figure 5: data-limited transfer {title}",
                    lambda init, pruner: style.INIT_LABEL.get(init, init), lambda init: style.INIT_LABEL.get(init, init),
                    colors, lambda p: ("-", "o"))


def figA10(table_path, out, title=""):
    """CUB-200 / VisDA-2017 (ST-SA, AT-SA, AT-RA) and VOC segmentation (mask AP, box AP): a curve per
    pre-training against sparsity, the dense models as bands, matching points filled (Fig. 3's style)."""
    inits = style.ordered(pd.read_csv(table_path)["init"], list(style.INIT_LABEL))
    colors = style.palette([style.INIT_LABEL.get(i, i) for i in inits])
    transfer_curves(table_path, out, f"Figure A10: more datasets and tasks {title}",
                    lambda init, pruner: style.INIT_LABEL.get(init, init), lambda init: style.INIT_LABEL.get(init, init),
                    colors, lambda p: ("-", "o"), metrics.PANELS + metrics.SEGMENTATION_PANELS)


def _landscape(table_path, out, title, rows=(("random", None), ("pca", None))):
    """Rows: (plane, study) pairs (study None: the table's only one); columns: pre-trainings."""
    table = pd.read_csv(table_path)
    inits = style.ordered(table["init"], list(style.INIT_LABEL))
    fig, axes = style.grid([f"{p} {s or ''}" for p, s in rows], inits, 3.4, 3.0)
    for c, init in enumerate(inits):
        for r, (plane, study) in enumerate(rows):
            ax = axes[r][c]
            sub = table[table["init"] == init]
            sub = sub if study is None else sub[(sub["study"] == study[0]) & (sub["surface"] == study[1])]
            g = sub[sub["plane"] == plane].pivot(index="beta", columns="alpha", values="loss")
            a, b = np.meshgrid(g.columns.values, g.index.values)
            cs = ax.contour(a, b, g.values, levels=15, cmap="viridis", linewidths=0.8)
            ax.clabel(cs, fontsize=5, fmt="%.2f")
            if plane == "pca":
                traj = sub[sub["plane"] == "trajectory"].sort_values("step")
                ax.plot(traj["alpha"], traj["beta"], "o-", color="crimson", ms=2.5, lw=1)
                ax.set_xlabel(f"PC1 (trajectory explains {100 * traj['explained'].iloc[0]:.0f} %)")
            else:
                ax.set_xlabel("random direction 1 (filter-normalised)")
            where = f", {study[0].removeprefix('fig2-')} ({study[1]})" if study else ""
            ax.set_title(f"{style.INIT_LABEL.get(init, init)}: {plane} plane{where}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    style.save(fig, out)


def fig6(table_path, out, title=""):
    _landscape(table_path, out, f"Figure 6: loss landscapes and trajectories, clean test data {title}")


def figA9(table_path, out, title=""):
    _landscape(table_path, out, f"Figure A9: loss landscapes and trajectories, PGD test data {title}")


def fig2(table_path, out, title=""):
    """Dense model and double-win ticket after data-limited transfer, on clean and PGD test data."""
    rows = [("pca", (study, surface)) for surface in ("clean", "pgd") for study in ("fig2-dense", "fig2-ticket")]
    _landscape(table_path, out, f"Figure 2: loss landscapes in data-scarce transfer, dense vs ticket {title}", rows)


def fig7(table_path, out, title=""):
    """All-zero kernels per conv layer and pre-training at one common IMP round: the k > 1 layers in
    the main heatmap, the 1x1 layers (a kernel = one weight, so = pruned weights) in a second one."""
    table = pd.read_csv(table_path)
    rounds = sorted(table["round"].unique())
    if len(rounds) != 1:
        raise ValueError(f"{table_path}: Fig. 7 compares one common round, the table holds rounds {rounds}")
    sparsity = table.groupby("init")["sparsity"].first()
    inits = style.ordered(table["init"], list(style.INIT_LABEL))
    wins = table.groupby("init")["double_win"].first()
    labels = [f"{style.INIT_LABEL.get(i, i)}\n{'a double-win ticket' if wins[i] else 'no double win'} here"
              for i in inits]
    pointwise = table["kernel_size"] == "1x1"
    panels = [(sub, label, bar) for sub, label, bar in
              ((table[~pointwise], "k x k kernels, k > 1", "all-zero kernels"),
               (table[pointwise], "1x1 convolutions: a kernel is one weight", "pruned weights (all-zero 1x1 kernels)"))
              if not sub.empty]
    if not panels:
        raise ValueError(f"{table_path}: no conv layer to show")
    width = max(sub["layer_index"].nunique() for sub, _, _ in panels)
    sns.set_theme(style="white", font_scale=0.7)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(6, 0.22 * width + 3), len(panels) * (0.8 * len(inits) + 1.2) + 0.6))
    for ax, (sub, label, bar) in zip(axes[:, 0], panels):
        grid = sub.pivot(index="init", columns="layer_index", values="zero_kernels").loc[inits]
        sns.heatmap(grid, ax=ax, cmap="rocket_r", annot=grid.shape[1] <= 30, fmt="d",
                    cbar_kws={"label": bar})
        sizes = " ".join(sorted(set(sub["kernel_size"]), key=lambda s: int(s.split("x")[0])))
        ax.set_yticklabels(labels, rotation=0)
        ax.set_xlabel(f"conv layer (place among all conv layers, network order); kernel sizes: {sizes}")
        ax.set_ylabel("")
        ax.set_title(label)
    spread = f"{sparsity.min():.2f} %" if sparsity.max() - sparsity.min() < 0.005 else \
        f"{sparsity.min():.2f}-{sparsity.max():.2f} %"
    fig.suptitle(f"Figure 7: fully pruned kernels per layer at a common sparsity, IMP round {rounds[0]} "
                 f"({spread}) for every pre-training {title}")
    fig.tight_layout()
    style.save(fig, out)


def figA8(table_path, out, title=""):
    table = pd.read_csv(table_path)
    table["pair"] = table["init_a"] + " vs " + table["init_b"]
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(table, x="sparsity", y="similarity", hue="pair", marker="o", ax=ax)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("|m_i ∩ m_j| / |m_i ∪ m_j|")
    ax.set_title(f"Figure A8: mask similarity between pre-trainings {title}")
    style.save(fig, out)


def tableA2(table_path, out, title=""):
    t = pd.read_csv(table_path).sort_values(["dataset", "init", "pruner", "sparsity"])
    nan = pd.Series([float("nan")] * len(t), index=t.index)
    shown = pd.DataFrame({"dataset": t["dataset"], "pre-training": t["init"], "pruning": t["pruner"],
                          "sparsity (%)": t["sparsity"].map("{:.2f}".format),
                          "white-box RA (%)": [style.fmt(m, s) for m, s in zip(t["ra_mean"], t["ra_std"])],
                          "transfer-attack RA (%)": [style.fmt(m, s) for m, s in
                                                     zip(t["transfer_ra_mean"], t["transfer_ra_std"])],
                          "AutoAttack RA (PGD), subset (%)": [
                              "—" if pd.isna(m) else f"{style.fmt(m, s)} ({p:.2f})" for m, s, p in
                              zip(t.get("aa_mean", nan), t.get("aa_std", nan), t.get("aa_pgd_mean", nan))]})
    style.render(shown, out, f"Table A2: transfer attack vs white-box PGD {title}\nAutoAttack and, in brackets, "
                 "white-box PGD on the same first autoattack.n test images", fit=True)


def table_doublewin(table_path, out, title=""):
    t = pd.read_csv(table_path).sort_values(["data", "dataset", "pruner", "init"])

    def pct(v):
        return "none" if pd.isna(v) else f"{v:.2f}"

    shown = pd.DataFrame({"pre-training": t["init"], "pruning": t["pruner"], "dataset": t["dataset"],
                          "data": t["data"], "panels run": t["panels"], "verdict": t["verdict"],
                          "extreme sparsity (%)": t["extreme_sparsity"].map(pct),
                          "published (%)": t["published_sparsity"].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")})
    style.render(shown, out, "Extreme sparsity of each verdict, reproduced and published "
                 f"{title}\ndouble-win: matching in ST-SA, AT-SA and AT-RA; AT matching: in AT-SA and AT-RA "
                 "(no ST runs)", fit=True)
