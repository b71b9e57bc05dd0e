"""Figures and rendered tables from collected CSVs (pandas -> seaborn/matplotlib), written atomically."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import metrics, provenance  # noqa: E402

INIT_LABEL = {"standard": "standard pre-training", "fast_adversarial": "fast adversarial pre-training",
              "adversarial": "adversarial pre-training"}
PRUNER_LABEL = {"imp_st": "IMP (standard re-training)", "imp_at": "IMP (adversarial re-training)",
                "omp": "one-shot magnitude (OMP)", "random": "random pruning"}


def save(fig, out):
    out = Path(out)
    try:
        provenance._atomic(out, lambda handle: fig.savefig(handle, format=out.suffix[1:], bbox_inches="tight",
                                                           metadata={"Title": out.stem}))
    finally:
        plt.close(fig)


def _ordered(values, order):
    return [v for v in order if v in set(values)] + sorted(set(values) - set(order))


def _grid(rows, cols, width=3.6, height=2.8):
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(width * len(cols), height * len(rows)), squeeze=False)
    return fig, axes


def _finish(fig, axes, title):
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), bbox_to_anchor=(0.5, -0.04),
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))


def transfer_curves(table_path, out, title, curve_of, dense_of, colors, style_of):
    """Rows: ST-SA, AT-SA, AT-RA; columns: (dataset, data). A curve per ticket family, mean +- std
    over seeds; the dense reference as a band; filled markers = matching (within one dense std)."""
    match = metrics.matching(pd.read_csv(table_path))
    cols = sorted(match[["dataset", "data"]].drop_duplicates().itertuples(index=False, name=None),
                  key=lambda c: (c[0], c[1] != "full", c[1]))
    panels = [p for _, _, p in metrics.PANELS if p in set(match["panel"])]
    fig, axes = _grid(panels, cols)
    for r, panel in enumerate(panels):
        for c, (ds, data) in enumerate(cols):
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
            ax.set_title(f"{ds}{'' if data == 'full' else f' ({data})'}: {panel}")
            ax.set_xlabel("sparsity (%)")
            ax.set_ylabel(f"{panel.split('-')[1]} (%)")
    _finish(fig, axes, title)
    save(fig, out)


def _palette(keys):
    return dict(zip(keys, sns.color_palette("colorblind", len(keys))))


def fig3(table_path, out, title=""):
    inits = _ordered(pd.read_csv(table_path)["init"], list(INIT_LABEL))
    labels = [INIT_LABEL.get(i, i) for i in inits] + [f"random pruning ({i})" for i in inits]
    colors = _palette(labels)

    def curve(init, pruner):
        return INIT_LABEL.get(init, init) if pruner == "imp_st" else f"random pruning ({init})"

    transfer_curves(table_path, out, f"Figure 3: tickets from three pre-trainings {title}", curve,
                    lambda init: INIT_LABEL.get(init, init), colors,
                    lambda p: ("-", "o") if p == "imp_st" else ("--", "s"))


def fig4(table_path, out, title=""):
    colors = _palette(list(PRUNER_LABEL.values()) + ["dense"])
    styles = {"imp_st": ("-", "o"), "imp_at": ("-", "^"), "omp": ("-.", "D"), "random": ("--", "s")}
    transfer_curves(table_path, out, f"Figure 4: pruning methods on adversarial pre-training {title}",
                    lambda init, pruner: PRUNER_LABEL[pruner], lambda init: "dense", colors, styles.get)


def fig5(table_path, out, title=""):
    inits = _ordered(pd.read_csv(table_path)["init"], list(INIT_LABEL))
    colors = _palette([INIT_LABEL.get(i, i) for i in inits])
    transfer_curves(table_path, out, f"Figure 5: data-limited transfer {title}",
                    lambda init, pruner: INIT_LABEL.get(init, init), lambda init: INIT_LABEL.get(init, init),
                    colors, lambda p: ("-", "o"))


def _landscape(table_path, out, title):
    table = pd.read_csv(table_path)
    inits = _ordered(table["init"], list(INIT_LABEL))
    fig, axes = _grid(["random", "pca"], inits, 3.4, 3.0)
    for c, init in enumerate(inits):
        sub = table[table["init"] == init]
        for r, plane in enumerate(["random", "pca"]):
            ax = axes[r][c]
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
            ax.set_title(f"{INIT_LABEL.get(init, init)}: {plane} plane", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save(fig, out)


def fig6(table_path, out, title=""):
    _landscape(table_path, out, f"Figure 6: loss landscapes and trajectories, clean test data {title}")


def figA9(table_path, out, title=""):
    _landscape(table_path, out, f"Figure A9: loss landscapes and trajectories, PGD test data {title}")


def fig7(table_path, out, title=""):
    table = pd.read_csv(table_path)
    inits = _ordered(table["init"], list(INIT_LABEL))
    grid = table.pivot(index="init", columns="layer_index", values="zero_kernels").loc[inits]
    labels = [f"{INIT_LABEL.get(i, i)}\n{float(table[table.init == i].sparsity.iloc[0]):.2f} % sparsity"
              + ("" if table[table.init == i].double_win.iloc[0] else " (no double win)") for i in inits]
    sns.set_theme(style="white", font_scale=0.7)
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * grid.shape[1] + 3), 0.8 * len(inits) + 1.5))
    sns.heatmap(grid, ax=ax, cmap="rocket_r", annot=grid.shape[1] <= 30, fmt="d", cbar_kws={"label": "all-zero kernels"})
    ax.set_yticklabels(labels, rotation=0)
    ax.set_xlabel("conv layer (network order)")
    ax.set_ylabel("")
    ax.set_title(f"Figure 7: fully pruned kernels per layer at the extreme double-win sparsity {title}")
    save(fig, out)


def figA8(table_path, out, title=""):
    table = pd.read_csv(table_path)
    table["pair"] = table["init_a"] + " vs " + table["init_b"]
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sns.lineplot(table, x="sparsity", y="similarity", hue="pair", marker="o", ax=ax)
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("|m_i ∩ m_j| / |m_i ∪ m_j|")
    ax.set_title(f"Figure A8: mask similarity between pre-trainings {title}")
    save(fig, out)


def _render(table, out, title, col_width=1.3):
    fig, ax = plt.subplots(figsize=(max(6, col_width * len(table.columns)), 0.32 * len(table) + 1.2))
    ax.axis("off")
    tab = ax.table(cellText=table.values, colLabels=list(table.columns), loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    tab.scale(1, 1.3)
    ax.set_title(title)
    save(fig, out)


def _fmt(mean, std):
    return f"{mean:.2f} ± {std:.2f}"


def tableA2(table_path, out, title=""):
    t = pd.read_csv(table_path).sort_values(["dataset", "init", "pruner", "sparsity"])
    shown = pd.DataFrame({"dataset": t["dataset"], "pre-training": t["init"], "pruning": t["pruner"],
                          "sparsity (%)": t["sparsity"].map("{:.2f}".format),
                          "white-box RA (%)": [_fmt(m, s) for m, s in zip(t["ra_mean"], t["ra_std"])],
                          "transfer-attack RA (%)": [_fmt(m, s) for m, s in
                                                     zip(t["transfer_ra_mean"], t["transfer_ra_std"])]})
    _render(shown, out, f"Table A2: transfer attack vs white-box PGD {title}")


def table_doublewin(table_path, out, title=""):
    t = pd.read_csv(table_path).sort_values(["data", "dataset", "pruner", "init"])

    def pct(v):
        return "none" if pd.isna(v) else f"{v:.2f}"

    shown = pd.DataFrame({"pre-training": t["init"], "pruning": t["pruner"], "dataset": t["dataset"],
                          "data": t["data"], "extreme sparsity (%)": t["extreme_sparsity"].map(pct),
                          "published (%)": t["published_sparsity"].map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")})
    _render(shown, out, f"Extreme double-win sparsity, reproduced and published {title}")


METHOD_ORDER = ["dense", "robust_bird", "flying_bird", "flying_bird_plus"]


def swt_overfitting(table_path, out, title=""):
    """Test RA over epochs per method (robust overfitting), a panel per (arch, dataset)."""
    t = pd.read_csv(table_path)
    keys = sorted(t[["arch", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = _grid([0], keys, 4.0, 3.0)
    order = _ordered(t["method"], METHOD_ORDER)
    for c, (arch, ds) in enumerate(keys):
        sub = t[(t["arch"] == arch) & (t["dataset"] == ds)]
        sns.lineplot(sub, x="epoch", y="test_ra", hue="method", hue_order=order, ax=axes[0][c], errorbar="sd")
        axes[0][c].set_title(f"{arch}, {ds}")
        axes[0][c].set_ylabel("test RA (%)")
        axes[0][c].get_legend().remove()
    _finish(fig, axes, f"Robust overfitting: test RA over training {title}")
    save(fig, out)


def swt_density(table_path, out, title=""):
    """Network density over epochs (Flying Bird+ falls while the gap widens)."""
    t = pd.read_csv(table_path)
    keys = sorted(t[["arch", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = _grid([0], keys, 4.0, 3.0)
    for c, (arch, ds) in enumerate(keys):
        sub = t[(t["arch"] == arch) & (t["dataset"] == ds) & (t["method"] != "dense")]
        sns.lineplot(sub, x="epoch", y="density", hue="method", ax=axes[0][c], errorbar=None)
        axes[0][c].set_title(f"{arch}, {ds}")
        axes[0][c].get_legend().remove()
    _finish(fig, axes, f"Density over training {title}")
    save(fig, out)


def swt_gap(table_path, out, title=""):
    """Robust generalization gap (train RA - test RA, PGD on the unaugmented training set)."""
    t = pd.read_csv(table_path)
    t["where"] = t["arch"] + ", " + t["dataset"]
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * t["where"].nunique(), 3.4))
    sns.barplot(t, x="where", y="final_gap", hue="method", hue_order=_ordered(t["method"], METHOD_ORDER), ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("robust generalization gap (%)")
    ax.set_title(f"Robust generalization gap of the final models {title}")
    save(fig, out)


def swt_table(table_path, out, title=""):
    t = pd.read_csv(table_path).sort_values(["arch", "dataset", "method"])

    def pub(v):
        return "—" if pd.isna(v) else f"{v:.2f}"

    shown = pd.DataFrame({
        "arch": t["arch"], "dataset": t["dataset"], "method": t["method"],
        "RA best/final": [f"{a:.2f} / {b:.2f}" for a, b in zip(t["best_test_ra"], t["final_test_ra"])],
        "published": [f"{pub(a)} / {pub(b)}" for a, b in zip(t["published_best_ra"], t["published_final_ra"])],
        "SA best/final": [f"{a:.2f} / {b:.2f}" for a, b in zip(t["best_test_sa"], t["final_test_sa"])],
        "overfit": t["robust_overfitting"].map("{:.2f}".format),
        "gap (pub.)": [f"{a:.2f} ({pub(b)})" for a, b in zip(t["final_gap"], t["published_gap"])],
        "density": t["final_density"].map("{:.3f}".format),
        "train / inf. FLOPs saved": [f"{a:.1f} / {b:.1f} %" for a, b in
                                     zip(t["train_flops_saving"], t["inference_flops_saving"])]})
    _render(shown, out, f"Sparsity Winning Twice: main table {title}", col_width=1.6)


KINDS = {"swt_overfitting": swt_overfitting, "swt_density": swt_density, "swt_gap": swt_gap,
         "swt_table": swt_table, "fig3": fig3, "fig4": fig4, "fig5": fig5, "fig6": fig6, "figA9": figA9, "fig7": fig7,
         "figA8": figA8, "tableA2": tableA2, "table_doublewin": table_doublewin}
