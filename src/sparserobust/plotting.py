"""Figures from collected tables (pandas -> seaborn/matplotlib), written atomically."""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import metrics  # noqa: E402

INIT_LABEL = {"standard": "standard pre-training", "fast_adversarial": "fast adversarial pre-training",
              "adversarial": "adversarial pre-training"}


def save(fig, out):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, bbox_inches="tight", metadata={"Title": out.stem})
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _label(init, pruner):
    return INIT_LABEL.get(init, init) if pruner == "imp_st" else f"random pruning ({init})"


def fig3(table_path, out, title=""):
    """Rows: ST-SA, AT-SA, AT-RA; columns: datasets. Curves per pre-training (IMP) and random
    pruning; dense mean +- std as a band per pre-training; filled markers = matching points."""
    match = metrics.matching(pd.read_csv(table_path))
    datasets = sorted(match["dataset"].unique())
    panels = [p for _, _, p in metrics.PANELS if p in set(match["panel"])]
    inits = [i for i in INIT_LABEL if i in set(match["init"])] or sorted(match["init"].unique())
    colors = dict(zip(inits, sns.color_palette("colorblind", len(inits))))
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, axes = plt.subplots(len(panels), len(datasets), figsize=(3.6 * len(datasets), 2.8 * len(panels)),
                             squeeze=False)
    for r, panel in enumerate(panels):
        for c, ds in enumerate(datasets):
            ax = axes[r][c]
            sub = match[(match["panel"] == panel) & (match["dataset"] == ds)]
            for init in inits:
                dense = sub[(sub["init"] == init) & (sub["pruner"] == "dense")]
                if not dense.empty:
                    m, s = float(dense["mean"].iloc[0]), float(dense["std"].iloc[0])
                    ax.axhspan(m - s, m + s, color=colors[init], alpha=0.12, lw=0)
                    ax.axhline(m, color=colors[init], lw=0.8, ls=":")
                for pruner, style in (("imp_st", "-"), ("random", "--")):
                    pts = sub[(sub["init"] == init) & (sub["pruner"] == pruner)].sort_values("sparsity")
                    if pts.empty:
                        continue
                    x = 100 * pts["sparsity"]
                    ax.errorbar(x, pts["mean"], yerr=pts["std"], color=colors[init], ls=style, lw=1.2,
                                capsize=2, label=_label(init, pruner))
                    hit = pts[pts["matching"]]
                    ax.scatter(100 * hit["sparsity"], hit["mean"], color=colors[init], s=28, zorder=3,
                               marker="o" if pruner == "imp_st" else "s")
                    miss = pts[~pts["matching"]]
                    ax.scatter(100 * miss["sparsity"], miss["mean"], facecolor="white",
                               edgecolor=colors[init], s=22, zorder=3,
                               marker="o" if pruner == "imp_st" else "s")
            ax.set_title(f"{ds}: {panel}")
            ax.set_xlabel("sparsity (%)")
            ax.set_ylabel(f"{panel.split('-')[1]} (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), bbox_to_anchor=(0.5, -0.04),
               frameon=False)
    fig.suptitle(title or "Figure 3: transfer of tickets from three pre-trainings "
                 "(bands: dense mean ± std; filled: matching)")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    save(fig, out)
