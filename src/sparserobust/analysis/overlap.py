"""Mask analyses: similarity between masks of different pre-trainings, all-zero conv kernels."""

import itertools

import pandas as pd


def similarity(a, b):
    """|a ∩ b| / |a ∪ b| over all masked weights (kept = True)."""
    inter = sum(int((a[n] & b[n]).sum()) for n in a)
    union = sum(int((a[n] | b[n]).sum()) for n in a)
    return inter / union if union else 1.0


def similarity_table(masks_by_init, rounds_sparsity):
    """Rows (round, sparsity, init_a, init_b, similarity) for every pair of pre-trainings."""
    rows = []
    for k, sparsity in rounds_sparsity.items():
        for a, b in itertools.combinations(sorted(masks_by_init), 2):
            rows.append({"round": k, "sparsity": sparsity, "init_a": a, "init_b": b,
                         "similarity": similarity(masks_by_init[a][k], masks_by_init[b][k])})
    return pd.DataFrame(rows)


POINTWISE = ("separate", "exclude")  # analysis.fig7.pointwise: what becomes of the 1x1 convolutions


def zero_kernels(mask, pointwise="separate"):
    """Per conv layer: the number of kernels (out, in) whose every weight is pruned, and the total.

    layer_index is the layer's place among all conv layers in network (mask) order; kernel_size is
    "3x3", "7x7", "1x1", ... In a 1x1 convolution a kernel is one weight, so its all-zero kernels are
    its pruned weights: `separate` keeps those layers (told apart by kernel_size), `exclude` drops them.
    """
    if pointwise not in POINTWISE:
        raise ValueError(f"analysis.fig7.pointwise: {pointwise!r} is not one of {POINTWISE}")
    rows = []
    convs = [(name, m) for name, m in mask.items() if m.dim() == 4]
    for index, (name, m) in enumerate(convs):
        size = "x".join(str(s) for s in m.shape[2:])
        if size == "1x1" and pointwise == "exclude":
            continue
        kernels = m.flatten(2).any(dim=2)  # [out, in]: True when the kernel keeps a weight
        rows.append({"layer": name, "layer_index": index, "kernel_size": size,
                     "zero_kernels": int((~kernels).sum()), "kernels": kernels.numel()})
    return pd.DataFrame(rows, columns=["layer", "layer_index", "kernel_size", "zero_kernels", "kernels"])


def zero_kernels_at(tickets, k, wins, pointwise="separate"):
    """Fig. 7's table: the all-zero kernels of every pre-training's ticket at one common IMP round k.

    tickets: {(init, round): (sparsity in [0, 1], mask)}; wins: {init: the rounds that are double-win
    tickets}. The round is k for every pre-training whatever its own extreme double-win round;
    double_win says whether round k is one for that pre-training.
    """
    inits = sorted({init for init, _ in tickets})
    if not inits:
        raise ValueError("Fig. 7 needs at least one IMP ticket")
    missing = [init for init in inits if (init, k) not in tickets]
    if missing:
        raise ValueError(f"no IMP ticket of round {k} (analysis.fig7.round) for {', '.join(missing)}")
    parts = []
    for init in inits:
        sp, mask = tickets[(init, k)]
        parts.append(zero_kernels(mask, pointwise).assign(init=init, round=k, sparsity=100 * sp,
                                                          double_win=k in wins.get(init, ())))
    return pd.concat(parts, ignore_index=True)
