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

# Sparsity Winning Twice (ICLR 2022), PreAct ResNet-18 at 80 % sparsity:
# (best RA, final RA, robust generalization gap) in %.
SWT = {
    ("cifar10", "dense"): (51.10, 43.61, 38.82), ("cifar10", "robust_bird"): (50.18, 46.10, 23.37),
    ("cifar10", "flying_bird"): (51.62, 46.37, 28.90), ("cifar10", "flying_bird_plus"): (51.70, 47.51, 23.89),
    ("cifar100", "dense"): (26.93, 19.62, 54.56), ("cifar100", "robust_bird"): (25.54, 20.82, 25.46),
    ("cifar100", "flying_bird"): (26.64, 22.00, 27.46), ("cifar100", "flying_bird_plus"): (26.66, 23.37, 20.12),
}


def swt(arch, dataset, method):
    if not arch.startswith("preact_resnet18") or "-" in method:
        return (None, None, None)
    return SWT.get((dataset, method), (None, None, None))
