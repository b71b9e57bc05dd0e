"""Masks: a dict of parameter name -> boolean tensor, with their statistics and file format."""

import weakref

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


class _Cast:
    """A mask dict's tensors cast to their parameters' dtype, device and strides, for one net: what
    `apply` multiplies by, so that a step pays no cast per mask tensor, only one foreach multiply.

    It stands for the mask while the dict holds the same names and the same tensor objects, none
    changed in place since (a tensor's _version counts its in-place changes), and the net the same
    parameter objects with the same dtype, device and strides (a model moved by .to() keeps its
    parameter objects); `apply` builds a new one otherwise. So a mask that changes in any way (an
    entry replaced, as the dynamic sparsifiers and a resume do, or written in place) is never
    applied stale. It holds the mask's tensors, so their ids cannot pass to new tensors meanwhile."""

    def __init__(self, net, mask):
        params = dict(net.named_parameters())
        self.names = tuple(mask)
        self.sources = tuple(mask.values())
        self.versions = _versions(self.sources)
        self.params = [params[n] for n in self.names]
        self.owners = [_owner(net, n) for n in self.names]
        self.layout = _layout(self.params)
        self.casts = [torch.empty_like(p).copy_(m) for p, m in zip(self.params, self.sources, strict=True)]

    def matches(self, mask):
        return (tuple(mask) == self.names and all(a is b for a, b in zip(mask.values(), self.sources, strict=True))
                and _versions(self.sources) == self.versions
                and all(d.get(leaf) is p for (d, leaf), p in zip(self.owners, self.params, strict=True))
                and _layout(self.params) == self.layout)


def _versions(tensors):
    return tuple(t._version for t in tensors)


def _layout(params):
    return tuple((p.dtype, p.device, p.stride()) for p in params)


def _owner(net, name):
    """(the _parameters dict of the module that holds `name`, the parameter's attribute name): a
    parameter replaced on its module shows there (the dict, not the module: no reference to `net`)."""
    path, _, leaf = name.rpartition(".")
    return net.get_submodule(path)._parameters, leaf


_CASTS = weakref.WeakKeyDictionary()  # net -> _Cast of the mask last applied to it


def _cast(net, mask):
    cast = _CASTS.get(net)
    if cast is None or not cast.matches(mask):
        cast = _CASTS[net] = _Cast(net, mask)
    return cast


@torch.no_grad()
def apply(net: nn.Module, mask):
    """Zero the pruned weights in place (called once after each optimiser step): one multi-tensor
    multiply by the mask cast to each parameter's dtype and device, kept between calls (_Cast)."""
    cast = _cast(net, mask)
    if cast.params:
        torch._foreach_mul_(cast.params, cast.casts)


@torch.no_grad()
def apply_momentum(opt, net: nn.Module, mask):
    """Zero the optimiser's momentum of pruned weights (dynamic sparsity: after a mask change); a
    buffer has its parameter's dtype and device, so the cast mask of `apply` serves it too."""
    cast = _cast(net, mask)
    pairs = [(buf, m) for buf, m in zip(map(opt.buffer_of, cast.params), cast.casts, strict=True) if buf is not None]
    if pairs:
        torch._foreach_mul_([b for b, _ in pairs], [m for _, m in pairs])


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
