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


def zero_kernels(mask):
    """Per conv layer: the number of kernels (out, in) whose every weight is pruned, and the total."""
    rows = []
    for name, m in mask.items():
        if m.dim() != 4:
            continue
        kernels = m.flatten(2).any(dim=2)  # [out, in]: True when the kernel keeps a weight
        rows.append({"layer": name, "zero_kernels": int((~kernels).sum()), "kernels": kernels.numel()})
    return pd.DataFrame(rows)
