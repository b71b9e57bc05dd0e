"""The Sparsity Winning Twice figures (robust overfitting, density, gap) and its main table."""

import pandas as pd

from . import plot_style as style
from .plot_style import plt, sns

METHOD_ORDER = ["dense", "robust_bird", "flying_bird", "flying_bird_plus"]


def swt_overfitting(table_path, out, title=""):
    """Test RA over epochs per method (robust overfitting), a panel per (arch, dataset)."""
    t = pd.read_csv(table_path)
    if "swa_test_ra" in t:  # "-kd_swa" rows report the averaged model from its first averaged epoch
        t["test_ra"] = t["swa_test_ra"].fillna(t["test_ra"])
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


def _pub(v):
    return "—" if pd.isna(v) else f"{v:.2f}"


def _pair(a, b):
    return "—" if pd.isna(a) else f"{a:.2f} / {b:.2f}"


def swt_table(table_path, out, title=""):
    """RA by both code rules (utils.py: test RA at best val RA; train_eb.py: max test RA, running-accuracy
    gap), AutoAttack, and FLOPs saved by the per-layer rule and the authors' global rule."""
    t = pd.read_csv(table_path).sort_values(["arch", "dataset", "method"])
    nan = pd.Series([float("nan")] * len(t), index=t.index)
    aa, aa_final = t.get("best_test_aa", nan), t.get("final_test_aa", nan)
    eb = t["published_rule"].fillna("").str.startswith("train_eb")  # published by train_eb.py's rule
    pub_best, pub_gap = t["published_best_ra"].where(~eb, nan), t["published_gap"].where(~eb, nan)
    pub_max, pub_running = t["published_best_ra"].where(eb, nan), t["published_gap"].where(eb, nan)
    shown = pd.DataFrame({
        "arch": t["arch"], "dataset": t["dataset"], "method": t["method"],
        "RA best/final": [_pair(a, b) for a, b in zip(t["best_test_ra"], t["final_test_ra"])],
        "published": [f"{_pub(a)} / {_pub(b)}" for a, b in zip(pub_best, t["published_final_ra"])],
        "RA max, train_eb (pub.)": [f"{_pub(a)} ({_pub(b)})" for a, b in zip(t["max_test_ra"], pub_max)],
        "AutoAttack (PGD), subset": [f"{_pair(a, b)} ({_pair(c, d)})" for a, b, c, d in
                                     zip(aa, aa_final, t.get("best_test_aa_pgd", nan), t.get("final_test_aa_pgd", nan))],
        "SA best/final (pub.)": [f"{_pair(a, b)} ({_pub(c)} / {_pub(d)})" for a, b, c, d in
                                 zip(t["best_test_sa"], t["final_test_sa"], t["published_best_sa"], t["published_final_sa"])],
        "overfit (pub.)": [f"{_pub(a)} ({_pub(b)})" for a, b in zip(t["robust_overfitting"], t["published_overfitting"])],
        "gap (pub.)": [f"{_pub(a)} ({_pub(b)})" for a, b in zip(t["final_gap"], pub_gap)],
        "gap running, train_eb (pub.)": [f"{_pub(a)} ({_pub(b)})" for a, b in zip(t["final_gap_running"], pub_running)],
        "density": t["final_density"].map("{:.3f}".format),
        "FLOPs saved train/inf, per layer": [f"{a:.1f} / {b:.1f} %" for a, b in
                                             zip(t["train_flops_saving"], t["inference_flops_saving"])],
        "global, authors' (pub.)": [f"{a:.1f} / {b:.1f} % ({_pub(c)} / {_pub(d)})" for a, b, c, d in
                                    zip(t["train_flops_saving_global"], t["inference_flops_saving_global"],
                                        t["published_train_flops_saving"], t["published_inference_flops_saving"])]})
    rules = sorted({f"{m.partition('-')[0]}: {r}" for m, r in zip(t["method"], t["published_rule"])})
    style.render(shown, out, f"Sparsity Winning Twice: main table {title}\nrule of each published row: "
                 + "\n".join(rules), fit=True)


def swt_abstract(table_path, out, title=""):
    """The abstract's claims from the reproduced table, beside the published values."""
    t = pd.read_csv(table_path).sort_values(["arch", "dataset", "claim", "method"])
    shown = pd.DataFrame({"arch": t["arch"], "dataset": t["dataset"], "method": t["method"], "claim": t["claim"],
                          "reproduced": t["reproduced"].map(_pub), "published": t["published"].map(_pub)})
    style.render(shown, out, f"Sparsity Winning Twice: the abstract's claims, reproduced {title}\n"
                 "gap / overfitting reduction = dense minus method (points); FLOPs saved by the authors' global rule",
                 fit=True)
