"""What every figure shares: labels, the grid and legend, rendered tables, atomic saving."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..foundations import provenance  # noqa: E402

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


def ordered(values, order):
    return [v for v in order if v in set(values)] + sorted(set(values) - set(order))


def grid(rows, cols, width=3.6, height=2.8):
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(width * len(cols), height * len(rows)), squeeze=False)
    return fig, axes


def finish(fig, axes, title):
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


def palette(keys):
    return dict(zip(keys, sns.color_palette("colorblind", len(keys))))


def render(table, out, title, col_width=1.3, fit=False):
    """A table as a figure; fit=True sizes each column to its longest text instead of equal widths."""
    fig, ax = plt.subplots(figsize=(max(6, col_width * len(table.columns)), 0.32 * len(table) + 1.2))
    ax.axis("off")
    tab = ax.table(cellText=table.values, colLabels=list(table.columns), loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    if fit:
        tab.auto_set_column_width(list(range(len(table.columns))))
    tab.scale(1, 1.3)
    ax.set_title(title)
    save(fig, out)


def fmt(mean, std):
    return f"{mean:.2f} ± {std:.2f}"
