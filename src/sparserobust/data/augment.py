"""Batch augmentation on the device: uint8 NCHW in, float [0, 1] out, no per-sample Python."""

import math

import torch
import torch.nn.functional as F


def _rand(n, gen, device):
    return torch.rand(n, generator=gen, device=device)


def _flip(x, gen):
    flip = _rand(x.shape[0], gen, x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def crop_flip(x, hp, gen):
    """Random crop with zero padding `pad` (a translation), then a random horizontal flip."""
    n, c, h, w = x.shape
    p = hp.pad
    xp = F.pad(x, (p, p, p, p))
    dy = (_rand(n, gen, x.device) * (2 * p + 1)).long()
    dx = (_rand(n, gen, x.device) * (2 * p + 1)).long()
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    out = xp[torch.arange(n, device=x.device)[:, None, None, None],
             torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    return _flip(out, gen) if hp.flip else out


def random_resized_crop(x, hp, gen):
    """RandomResizedCrop(size, scale, ratio 3/4..4/3) + flip, one affine grid per sample."""
    n = x.shape[0]
    dev = x.device
    area = hp.scale[0] + (hp.scale[1] - hp.scale[0]) * _rand(n, gen, dev)
    logr = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * _rand(n, gen, dev)
    sw = torch.sqrt(area * torch.exp(logr)).clamp(max=1.0)
    sh = torch.sqrt(area / torch.exp(logr)).clamp(max=1.0)
    cx = (1 - sw) * (2 * _rand(n, gen, dev) - 1)
    cy = (1 - sh) * (2 * _rand(n, gen, dev) - 1)
    sign = torch.where(_rand(n, gen, dev) < 0.5, -1.0, 1.0) if hp.flip else torch.ones(n, device=dev)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = sw * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    grid = F.affine_grid(theta, (n, x.shape[1], hp.size, hp.size), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resize_center_crop(x, hp, gen=None):
    """Resize(resize) then CenterCrop(size): the papers' test view for 32 px images at 224."""
    x = F.interpolate(x, size=(hp.resize, hp.resize), mode="bilinear", align_corners=False)
    top = (hp.resize - hp.size) // 2
    return x[:, :, top:top + hp.size, top:top + hp.size]


KINDS = {"none": lambda x, hp, gen: x, "crop_flip": crop_flip,
         "random_resized_crop": random_resized_crop, "resize_center_crop": resize_center_crop}


def apply(x_uint8, hp, gen=None):
    """uint8 batch on the device -> augmented float batch in [0, 1]."""
    if hp.kind not in KINDS:
        raise ValueError(f"unknown augmentation kind {hp.kind!r}; known: {sorted(KINDS)}")
    x = x_uint8.to(torch.get_default_dtype()).div_(255.0)
    return KINDS[hp.kind](x, hp, gen)  # data.batches makes it contiguous, channels_last
