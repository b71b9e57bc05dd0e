"""The Sparsity Winning Twice figures (robust overfitting, density, gap) and its main table."""

import pandas as pd

from . import plot_style as style
from .plot_style import plt, sns

METHOD_ORDER = ["dense", "robust_bird", "flying_bird", "flying_bird_plus"]


def swt_overfitting(table_path, out, title=""):
    """Test RA over epochs per method (robust overfitting), a panel per (arch, dataset)."""
    t = pd.read_csv(table_path)
    keys = sorted(t[["arch", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = style.grid([0], keys, 4.0, 3.0)
    order = style.ordered(t["method"], METHOD_ORDER)
    for c, (arch, ds) in enumerate(keys):
        sub = t[(t["arch"] == arch) & (t["dataset"] == ds)]
        sns.lineplot(sub, x="epoch", y="test_ra", hue="method", hue_order=order, ax=axes[0][c], errorbar="sd")
        axes[0][c].set_title(f"{arch}, {ds}")
        axes[0][c].set_ylabel("test RA (%)")
        axes[0][c].get_legend().remove()
    style.finish(fig, axes, f"Robust overfitting: test RA over training {title}")
    style.save(fig, out)


def swt_density(table_path, out, title=""):
    """Network density over epochs (Flying Bird+ falls while the gap widens)."""
    t = pd.read_csv(table_path)
    keys = sorted(t[["arch", "dataset"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = style.grid([0], keys, 4.0, 3.0)
    for c, (arch, ds) in enumerate(keys):
        sub = t[(t["arch"] == arch) & (t["dataset"] == ds) & (t["method"] != "dense")]
        sns.lineplot(sub, x="epoch", y="density", hue="method", ax=axes[0][c], errorbar=None)
        axes[0][c].set_title(f"{arch}, {ds}")
        axes[0][c].get_legend().remove()
    style.finish(fig, axes, f"Density over training {title}")
    style.save(fig, out)


def swt_gap(table_path, out, title=""):
    """Robust generalization gap (train RA - test RA, PGD on the unaugmented training set)."""
    t = pd.read_csv(table_path)
    t["where"] = t["arch"] + ", " + t["dataset"]
    sns.set_theme(style="whitegrid", font_scale=0.8)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * t["where"].nunique(), 3.4))
    sns.barplot(t, x="where", y="final_gap", hue="method", hue_order=style.ordered(t["method"], METHOD_ORDER), ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("robust generalization gap (%)")
    ax.set_title(f"Robust generalization gap of the final models {title}")
    style.save(fig, out)


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
    style.render(shown, out, f"Sparsity Winning Twice: main table {title}", col_width=1.6)
