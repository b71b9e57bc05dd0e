"""The embedded demo dataset family: small, learnable, deterministic image tasks.

Every class is a template made of a few coloured oriented gratings; an image is its
class template at a random shift and contrast on a random smooth background, with pixel
noise, stored as uint8. Tasks differ by `task_seed` (and class count) but share the same
kind of low-level features, so a network pre-trained on one task transfers to the others.
"""

import math

import torch


def _templates(task_seed, num_classes, size):
    g = torch.Generator().manual_seed(10_000 + task_seed)
    coords = torch.linspace(0, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    out = torch.zeros(num_classes, 3, size, size)
    for c in range(num_classes):
        for _ in range(3):
            freq, angle, phase = 1 + 3 * torch.rand(3, generator=g) * torch.tensor([1, math.pi, 2 * math.pi / 3])
            color = torch.rand(3, generator=g) * 2 - 1
            wave = torch.cos(2 * math.pi * freq * (xx * torch.cos(angle) + yy * torch.sin(angle)) + phase)
            out[c] += color.view(3, 1, 1) * wave
        out[c] /= out[c].abs().max()
    return out


def generate(task_seed, num_classes, n, split_seed, size=16, noise=0.2):
    """n images (uint8 NCHW) and labels of one split of a demo task; deterministic."""
    templates = _templates(task_seed, num_classes, size)
    g = torch.Generator().manual_seed(task_seed * 1_000_003 + split_seed)
    y = torch.arange(n) % num_classes
    y = y[torch.randperm(n, generator=g)]
    shifts = torch.randint(-3, 4, (n, 2), generator=g)
    imgs = templates[y]
    rows = (torch.arange(size).view(1, -1) - shifts[:, :1]) % size
    cols = (torch.arange(size).view(1, -1) - shifts[:, 1:]) % size
    imgs = imgs[torch.arange(n)[:, None, None, None], torch.arange(3)[None, :, None, None],
                rows[:, None, :, None], cols[:, None, None, :]]
    contrast = 0.3 + 0.2 * torch.rand(n, 1, 1, 1, generator=g)
    background = 0.5 + 0.15 * (torch.rand(n, 3, 1, 1, generator=g) - 0.5)
    ramp = torch.linspace(-1, 1, size).view(1, 1, 1, size) * 0.1 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    x = background + ramp + contrast * imgs + noise * torch.randn(n, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), y
