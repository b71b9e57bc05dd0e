"""Pruning strategies registered by name, and rewinding as an explicit step.

A strategy takes the current weights and mask and returns a new mask that removes exactly
`count` of the currently kept weights, ranked globally over all masked tensors.
"""

import torch

STRATEGIES = {}


def register(name):
    def wrap(fn):
        STRATEGIES[name] = fn
        return fn
    return wrap


def _remove_lowest(scores, mask, count):
    """Turn off the `count` kept entries with the lowest score (ties broken by position)."""
    names = list(mask)
    kept = torch.cat([scores[n][mask[n]].flatten().float() for n in names])
    if not 0 <= count <= kept.numel():
        raise ValueError(f"cannot remove {count} of {kept.numel()} kept weights")
    drop = torch.zeros(kept.numel(), dtype=torch.bool)
    drop[torch.sort(kept, stable=True).indices[:count]] = True
    out, start = {}, 0
    for n in names:
        m = mask[n].clone()
        idx = m.nonzero(as_tuple=True)
        k = idx[0].numel()
        m[idx] = ~drop[start:start + k]
        out[n] = m
        start += k
    return out


@register("magnitude")
def magnitude(weights, mask, count, generator=None):
    """Global unstructured magnitude pruning: the smallest |w| among kept weights go."""
    return _remove_lowest({n: weights[n].detach().abs().cpu() for n in mask}, mask, count)


@register("random")
def random(weights, mask, count, generator=None):
    """Global random pruning among kept weights (seeded by `generator`)."""
    scores = {n: torch.rand(mask[n].shape, generator=generator) for n in mask}
    return _remove_lowest(scores, mask, count)


def kept_after_rounds(total, fraction, rounds):
    """Weights kept after `rounds` rounds of removing `fraction` of the remaining ones."""
    kept = total
    for _ in range(rounds):
        kept -= round(fraction * kept)
    return kept


def prune(strategy, weights, mask, fraction=None, count=None, generator=None):
    """Remove `fraction` of the remaining weights (or exactly `count`) with a named strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown pruning strategy {strategy!r}; known: {sorted(STRATEGIES)}")
    if count is None:
        count = round(fraction * sum(int(m.sum()) for m in mask.values()))
    return STRATEGIES[strategy]({n: weights[n] for n in mask}, mask, count, generator)


def prune_to_round(strategy, weights, mask, fraction, rounds, generator=None):
    """One-shot pruning to the density IMP reaches after `rounds` rounds (OMP and random)."""
    total = sum(m.numel() for m in mask.values())
    count = sum(int(m.sum()) for m in mask.values()) - kept_after_rounds(total, fraction, rounds)
    return prune(strategy, weights, mask, count=count, generator=generator)


def rewind(pretrained_state, mask):
    """Rewinding: every tensor back to its pre-trained value, pruned weights set to zero."""
    state = {k: v.clone() for k, v in pretrained_state.items()}
    for name, m in mask.items():
        state[name] = state[name] * m.to(state[name].dtype)
    return state
