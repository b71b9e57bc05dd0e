"""Numbers published by the papers (sources in docs/papers.md), shown beside the reproduced ones."""

# Double-Win (ICML 2022) abstract: extreme double-win sparsity (%) of IMP tickets, full data.
DOUBLE_WIN_SPARSITY = {
    ("standard", "cifar10"): 89.26, ("standard", "cifar100"): 73.79,
    ("fast_adversarial", "cifar10"): 89.26, ("fast_adversarial", "cifar100"): 79.03,
    ("adversarial", "cifar10"): 91.41, ("adversarial", "cifar100"): 83.22,
}


def double_win(init, pruner, dataset, data):
    if pruner != "imp_st" or data != "full":
        return None
    return DOUBLE_WIN_SPARSITY.get((init, dataset))


# Sparsity Winning Twice (ICLR 2022), PreAct ResNet-18 at 80 % sparsity, the main table (the authors'
# README, Figs/table.png): RA best, RA final, SA best, SA final (%), training FLOPs (1e17), inference
# FLOPs (1e9), robust generalization gap (points).
COLUMNS = ("best_ra", "final_ra", "best_sa", "final_sa", "train_flops", "inference_flops", "gap")
SWT = {
    ("cifar10", "dense"): (51.10, 43.61, 81.15, 83.38, 772.41, 260.07, 38.82),
    ("cifar10", "robust_bird"): (50.18, 46.10, 78.46, 82.42, 209.54, 64.64, 23.37),
    ("cifar10", "flying_bird"): (51.62, 46.37, 80.55, 83.17, 239.38, 80.60, 28.90),
    ("cifar10", "flying_bird_plus"): (51.70, 47.51, 80.74, 83.16, 120.04, 40.42, 23.89),
    ("cifar100", "dense"): (26.93, 19.62, 52.03, 53.91, 772.41, 260.07, 54.56),
    ("cifar100", "robust_bird"): (25.54, 20.82, 48.79, 53.33, 189.80, 58.00, 25.46),
    ("cifar100", "flying_bird"): (26.64, 22.00, 53.57, 55.41, 237.12, 79.84, 27.46),
    ("cifar100", "flying_bird_plus"): (26.66, 23.37, 52.29, 55.23, 100.90, 33.97, 20.12),
    ("tinyimagenet", "dense"): (20.84, 15.76, 43.57, 46.64, 6179.30, 1040.29, 36.84),
    ("tinyimagenet", "robust_bird"): (19.58, 16.45, 43.70, 46.30, 1410.44, 215.15, 15.22),
    ("tinyimagenet", "flying_bird"): (20.34, 19.00, 45.95, 46.86, 1884.01, 317.17, 14.93),
    ("tinyimagenet", "flying_bird_plus"): (20.36, 19.11, 45.67, 46.73, 1225.80, 206.36, 13.24),
}
# Which code rule made a published row (docs/papers.md): Robust Bird's script (train_eb.py) reports the
# highest test RA over epochs and running train accuracy minus final test RA; the others (utils.py)
# the test RA at the best validation RA and PGD-20 train RA minus test RA.
RULE = {"robust_bird": "train_eb: best = max test RA; gap = running train RA - final test RA"}
UTILS_RULE = "utils: best = test RA at best val RA; gap = PGD-20 train RA - test RA"
# The abstract: gap and robust overfitting reduced by 34.44 and 4.02 points (CIFAR-100, Flying Bird+
# against dense: 54.56 - 20.12 and (26.93 - 19.62) - (26.66 - 23.37)); up to 87.83 % / 87.82 % of the
# training / inference FLOPs saved (the authors' global rule; the paper's best row is not named).
ABSTRACT = {("cifar100", "flying_bird_plus", "gap_reduction"): 34.44,
            ("cifar100", "flying_bird_plus", "overfitting_reduction"): 4.02}
ABSTRACT_UP_TO = {"train_flops_saving_global": 87.83, "inference_flops_saving_global": 87.82}


def swt(arch, dataset, method):
    """The published row as {column: value}, or {} when the paper has none."""
    if not arch.startswith("preact_resnet18") or "-" in method or (dataset, method) not in SWT:
        return {}
    return dict(zip(COLUMNS, SWT[(dataset, method)]))


def swt_row(arch, dataset, method):
    """The published columns of one main-table row (FLOPs saved against the published dense row)."""
    row, dense = swt(arch, dataset, method), swt(arch, dataset, "dense")
    out = {f"published_{k}": row.get(k) for k in ("best_ra", "final_ra", "best_sa", "final_sa", "gap")}
    out["published_overfitting"] = round(row["best_ra"] - row["final_ra"], 2) if row else None
    for kind in ("train", "inference"):
        out[f"published_{kind}_flops_saving"] = (100 * (1 - row[f"{kind}_flops"] / dense[f"{kind}_flops"])
                                                 if row else None)
    out["published_rule"] = RULE.get(method.partition("-")[0], UTILS_RULE)
    return out


def abstract(arch, dataset, method, claim):
    if not arch.startswith("preact_resnet18") or (dataset, "dense") not in SWT:  # the paper's tasks only
        return None
    if claim in ABSTRACT_UP_TO:
        return ABSTRACT_UP_TO[claim] if method.startswith("flying_bird_plus") else None
    return ABSTRACT.get((dataset, method, claim))
