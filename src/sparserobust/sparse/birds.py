"""Sparse training from scratch (Sparsity Winning Twice): Robust Bird's early-ticket test,
Flying Bird's prune-and-grow with Ideal-Gas-Quota densities, and Flying Bird+'s adaptive
extra prune / extra grow. Masks are dicts of parameter name -> bool tensor, as everywhere.
"""

import math
from collections import deque

import torch
from torch import nn

from ..lottery import pruning


def sparse_names(net):
    """Every conv and linear weight (Sparsity Winning Twice prunes both)."""
    return [f"{n}.weight" for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def igq_densities(sizes, density, iters=200):
    """Ideal-Gas Quotas: density_l = 1 / (f * N_l + 1), f found by bisection so that the kept
    weights add up to `density` of all; returns {name: density}."""
    if not 0 < density <= 1:
        raise ValueError(f"swt.density {density!r}: give the fraction of weights kept, in (0, 1]")
    total = sum(sizes.values())

    def kept(f):
        return sum(n / (f * n + 1) for n in sizes.values())

    lo, hi = 0.0, 1.0
    while kept(hi) > density * total:
        hi *= 2
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if kept(mid) > density * total else (lo, mid)
    f = (lo + hi) / 2
    return {name: 1 / (f * n + 1) for name, n in sizes.items()}


def random_mask(shapes, densities, generator):
    """Per layer exactly round(density * size) kept weights at random positions."""
    out = {}
    for name, shape in shapes.items():
        n = math.prod(shape)
        keep = torch.zeros(n, dtype=torch.bool)
        keep[torch.randperm(n, generator=generator)[:round(densities[name] * n)]] = True
        out[name] = keep.view(shape)
    return out


def cosine_rate(step, total, start=0.5, end=0.005):
    return end + (start - end) * (1 + math.cos(math.pi * min(step, total) / max(1, total))) / 2


def prune_and_grow(weights, mask, rate, generator, grads=None, extra_prune=0.0, grow_factor=1.0,
                   count="approximate"):
    """One topology update, in the order of the authors' sparselearning `truncate_weights`
    (Sparsity-Win-Robust-Generalization, sparselearning/core.py): per layer, prune the
    ceil(rate * nnz) smallest-magnitude kept weights (Flying Bird+: ceil(extra_prune * nnz) more),
    then regrow grow_factor x ceil(rate * nnz) among ALL zero positions after pruning (just
    pruned ones included): at random, or by largest |grad| when `grads` are given.

    count: "approximate" = the authors' Bernoulli draw (each zero position grows with probability
    n_grow / n_zero, so the count is right in expectation); "exact" = exactly n_grow positions, so
    without Flying Bird+'s extra prune / growth every layer keeps its number of weights exactly.
    Returns (new mask, grown): grown marks the positions that grow (they start from zero).
    """
    if count not in ("approximate", "exact"):
        raise ValueError(f"swt.flying_bird.regrow_count {count!r}: use approximate or exact")
    new, grown = {}, {}
    for name, m in mask.items():
        flat = m.flatten().clone()
        kept = flat.nonzero().flatten()
        nnz = kept.numel()
        n_normal = min(nnz, math.ceil(rate * nnz))
        n_prune = min(nnz, n_normal + (math.ceil(extra_prune * nnz) if extra_prune else 0))
        if n_prune:
            mags = weights[name].detach().flatten()[kept].abs().float().cpu()
            flat[kept[torch.sort(mags, stable=True).indices[:n_prune]]] = False
        zeros = (~flat).nonzero().flatten()  # after pruning: the just-pruned positions are candidates
        n_grow = min(zeros.numel(), n_normal * grow_factor)
        pick = zeros[:0]
        if n_grow and grads is not None:
            score = grads[name].detach().flatten()[zeros].abs().float().cpu()
            pick = zeros[torch.sort(score, descending=True, stable=True).indices[:round(n_grow)]]
        elif n_grow and count == "exact":
            pick = zeros[torch.randperm(zeros.numel(), generator=generator)[:round(n_grow)]]
        elif n_grow:
            pick = zeros[torch.rand(zeros.numel(), generator=generator) < n_grow / zeros.numel()]
        flat[pick] = True
        g = torch.zeros_like(flat)
        g[pick] = True
        new[name], grown[name] = flat.view_as(m), g.view_as(m)
    return new, grown


def update_interval(schedule, every, epochs_done):
    """The prune-and-grow interval in iterations once `epochs_done` epochs are finished: `every`,
    or the last [epoch, interval] pair of `schedule` whose epoch has been reached (Flying Bird's
    scripts pass --dynamic_fre: 900 iterations, 1200 once more than half the epochs are done)."""
    for epoch, interval in sorted(schedule or []):
        if epochs_done >= epoch:
            every = interval
    return every


def hamming(a, b):
    """Normalised Hamming distance between two masks: the fraction of positions that differ."""
    diff = sum(int((a[n] != b[n]).sum()) for n in a)
    return diff / sum(m.numel() for m in a.values())


class EarlyTicket:
    """Robust Bird's test: keep the last `window` masks; converged when the newest is within
    `threshold` normalised Hamming distance of each of the older ones."""

    def __init__(self, window=5, threshold=0.08):
        self.masks = deque(maxlen=window)
        self.threshold = threshold

    def add(self, mask):
        self.masks.append({n: m.clone() for n, m in mask.items()})
        return self.converged()

    def converged(self):
        if len(self.masks) < self.masks.maxlen:
            return False
        newest = self.masks[-1]
        return all(hamming(newest, old) <= self.threshold for old in list(self.masks)[:-1])


class AdaptiveControl:
    """Flying Bird+: from `start_epoch`, over the last `window` epochs, extra pruning when at
    least half of the gap differences are > 0, extra growth when at least half of the
    validation robust-loss differences are >= 0."""

    def __init__(self, start_epoch, window=5, extra_prune=0.4, grow_factor=1.05):
        self.start, self.extra, self.factor = start_epoch, extra_prune, grow_factor
        self.gaps, self.losses = deque(maxlen=window), deque(maxlen=window)

    def observe(self, epoch, gap, val_robust_loss):
        self.gaps.append(gap)
        self.losses.append(val_robust_loss)
        self.epoch = epoch

    def decision(self):
        """(extra prune fraction of the rate, grow factor) for the coming prune-and-grow steps."""
        if getattr(self, "epoch", 0) < self.start or len(self.gaps) < self.gaps.maxlen:
            return 0.0, 1.0
        gd = [b - a for a, b in zip(self.gaps, list(self.gaps)[1:])]
        ld = [b - a for a, b in zip(self.losses, list(self.losses)[1:])]
        extra = self.extra if sum(d > 0 for d in gd) >= len(gd) / 2 else 0.0
        grow = self.factor if sum(d >= 0 for d in ld) >= len(ld) / 2 else 1.0
        return extra, grow


def global_magnitude_mask(net, names, density):
    """The global magnitude mask of `names` keeping `density` of their weights."""
    params = dict(net.named_parameters())
    ones = {n: torch.ones_like(params[n], dtype=torch.bool).cpu() for n in names}
    total = sum(m.numel() for m in ones.values())
    return pruning.prune("magnitude", {n: params[n].detach().cpu() for n in names}, ones,
                         count=total - round(density * total))

