"""Masks: a dict of parameter name -> boolean tensor, with their statistics and file format."""

import torch
from torch import nn


def prunable_names(net: nn.Module):
    """The weights pruned by default: every Conv2d weight (stem and downsample included)."""
    return [f"{name}.weight" for name, mod in net.named_modules() if isinstance(mod, nn.Conv2d)]


def ones_like(net: nn.Module, names=None):
    params = dict(net.named_parameters())
    return {n: torch.ones_like(params[n], dtype=torch.bool) for n in names or prunable_names(net)}


def density(mask):
    kept = sum(int(m.sum()) for m in mask.values())
    total = sum(m.numel() for m in mask.values())
    return kept / total


def sparsity(mask):
    return 1.0 - density(mask)


def layer_densities(mask):
    return {n: float(m.float().mean()) for n, m in mask.items()}


@torch.no_grad()
def apply(net: nn.Module, mask):
    """Zero the pruned weights in place (called once after each optimiser step)."""
    params = dict(net.named_parameters())
    for name, m in mask.items():
        params[name].mul_(m.to(device=params[name].device, dtype=params[name].dtype))


@torch.no_grad()
def apply_momentum(opt, net: nn.Module, mask):
    """Zero the optimiser's momentum of pruned weights (dynamic sparsity: after a mask change)."""
    params = dict(net.named_parameters())
    for name, m in mask.items():
        buf = opt.buffer_of(params[name])
        if buf is not None:
            buf.mul_(m.to(device=buf.device, dtype=buf.dtype))


def check_compatible(net: nn.Module, mask, source="mask"):
    params = dict(net.named_parameters())
    for name, m in mask.items():
        if name not in params:
            raise ValueError(f"{source}: parameter {name!r} is not in the model")
        if tuple(params[name].shape) != tuple(m.shape):
            raise ValueError(f"{source}: {name} has shape {tuple(m.shape)}, the model has "
                             f"{tuple(params[name].shape)}")


def summary(mask):
    return {"sparsity": sparsity(mask), "density": density(mask),
            "layer_density": layer_densities(mask)}


def to_file(mask, provenance):
    """The ticket checkpoint: mask (on CPU), its statistics and provenance."""
    return {"mask": {n: m.cpu() for n, m in mask.items()}, **summary(mask),
            "provenance": provenance}


def read_ticket(path, with_digest=False):
    """A ticket file's contents (checksum verified); `with_digest`: (contents, digest)."""
    from ..foundations import provenance

    blob, digest = provenance.load_torch(path, with_digest=True)
    if "mask" not in blob:
        raise ValueError(f"{path}: not a ticket file (no 'mask' entry)")
    return (blob, digest) if with_digest else blob


def load(path):
    return {n: m.bool() for n, m in read_ticket(path)["mask"].items()}
