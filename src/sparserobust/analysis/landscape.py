"""Loss landscapes (Li et al. 2018) and training trajectories, restricted to a ticket's mask.

Directions cover the weights of conv and linear layers only (BN parameters and biases
excluded, as Li et al. do with ignore='biasbn'); a random direction is filter-normalised
(each output filter scaled to the norm of the model's filter) and masked, so the pruned
weights stay zero everywhere on the grid. The trajectory plane is spanned by the first two
PCA directions of the checkpoints minus the final model (centred, as sklearn's PCA in Li et al.).
"""

import contextlib

import torch

from ..training import evaluate


def direction_names(net):
    return [n for n, p in net.named_parameters() if p.dim() > 1]


def random_direction(net, mask, generator):
    """A seeded filter-normalised random direction, zero on pruned weights."""
    out = {}
    params = dict(net.named_parameters())
    for name in direction_names(net):
        w = params[name].detach().cpu()
        d = torch.randn(w.shape, generator=generator)
        if name in mask:
            d = d * mask[name].cpu()
        dn = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        wn = w.flatten(1).norm(dim=1)
        out[name] = d * (wn / dn).view(-1, *([1] * (w.dim() - 1)))
    return out


def flatten(vectors, names):
    return torch.cat([vectors[n].flatten().float() for n in names])


def unflatten(flat, like, names):
    out, start = {}, 0
    for n in names:
        k = like[n].numel()
        out[n] = flat[start:start + k].view_as(like[n])
        start += k
    return out


def pca_directions(states, names):
    """First two PCA directions of (checkpoint - final) over `names`, each checkpoint's coordinates
    in that plane, and the variance ratio each direction explains.

    As Li et al. (2018) do (tomgoldstein/loss-landscape, projection.py: setup_PCA_directions fits
    sklearn's PCA(n_components=2), which centres the rows; project_trajectory then projects each
    checkpoint's difference): the rows (checkpoint - final) are centred (their mean subtracted)
    before the SVD, and the explained-variance ratios are those of the centred rows; the
    coordinates are the UNcentred differences projected on the unit-norm directions, so the final
    model sits at the origin of the plane.
    """
    final = flatten(states[-1], names)
    diffs = torch.stack([flatten(s, names) - final for s in states])
    _, sv, vt = torch.linalg.svd(diffs - diffs.mean(dim=0, keepdim=True), full_matrices=False)
    dirs = vt[:2]
    if dirs.shape[0] < 2:  # a single checkpoint: pad with a zero direction
        dirs = torch.cat([dirs, torch.zeros_like(final).unsqueeze(0)])
    coords = diffs @ dirs.T
    ratio = (sv[:2] ** 2 / (sv ** 2).sum().clamp_min(1e-12)).tolist()
    return dirs, coords, ratio


@torch.no_grad()
def _shift(net, base, d1, d2, a, b):
    params = dict(net.named_parameters())
    for n in d1:
        params[n].copy_(base[n] + a * d1[n].to(base[n]) + b * d2[n].to(base[n]))


def grid(model, d1, d2, data, device, span, resolution, batch_size=256, view=None, attack=None, seed=0,
         autocast=contextlib.nullcontext):
    """Loss and accuracy over a (resolution x resolution) grid of alpha, beta in [-span, span]."""
    net = model.net
    base = {n: p.detach().clone() for n, p in net.named_parameters() if n in d1}
    axis = torch.linspace(-span, span, resolution)
    loss = torch.zeros(resolution, resolution)
    acc = torch.zeros(resolution, resolution)
    try:
        for i, a in enumerate(axis.tolist()):
            for j, b in enumerate(axis.tolist()):
                _shift(net, base, d1, d2, a, b)
                acc[i, j], loss[i, j] = evaluate.accuracy(model, data, device, batch_size, view, attack,
                                                          seed, autocast)
    finally:
        _shift(net, base, d1, d2, 0.0, 0.0)
    return axis, loss, acc
