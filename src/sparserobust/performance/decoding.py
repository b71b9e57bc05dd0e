"""How many CPU cores the ImageNet folders need per GPU with decode: cpu. One process (one core) runs a
worker's own per-image work from data/folders.py (PIL decode, RandomResizedCrop 224 + flip, to a uint8
tensor) over JPEGs of ImageNet's typical sizes; cores per GPU = the images/s a GPU consumes / that rate.
With decode: gpu the workers only read the files' bytes, whose rate is measured too."""

import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

SIZES = ((500, 375), (500, 333), (375, 500), (400, 350), (500, 500), (333, 500))  # (width, height)


def fabricate(folder, n, sizes=SIZES, grain=24.0, quality=90, seed=0):
    """n JPEGs in folder/train/c0/ cycling through `sizes`: a smooth random field (bicubic from 1/16 of
    the size) plus Gaussian grain of std `grain`, which sets the bytes per pixel and so the decode cost.
    Returns their paths."""
    from PIL import Image

    rng, out = np.random.default_rng(seed), []
    folder = Path(folder) / "train" / "c0"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        small = Image.fromarray(rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8))
        base = np.asarray(small.resize((w, h), Image.BICUBIC), dtype=np.float32)
        pixels = np.clip(base + rng.normal(0, grain, base.shape), 0, 255).astype(np.uint8)
        out.append(folder / f"img_{i:05d}.JPEG")
        Image.fromarray(pixels).save(out[-1], "JPEG", quality=quality)
    return out


def _rate(samples, n, repeats):
    """Median images/s of `repeats` passes over samples[(i, seed)] in this process."""
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            samples[(i, r * n + i)]
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def per_core(root, repeats=3):
    """{'decode_crop': images/s, 'read_bytes': files/s, 'files', 'mean_kb', 'bytes_per_pixel'} of one
    process with one thread, over the JPEGs under root/train, as the training split's workers do it."""
    from PIL import Image

    from ..data import folders, stream

    torch.set_num_threads(1)
    data = folders.FolderData(Path(root) / "train", True, 1)
    files = data.samples()  # what decode: gpu's workers read: the bytes
    cropped = stream.Stream(files, data.view(), 0).samples  # what decode: cpu's workers run per image
    paths = [Path(p.decode()) for p in files.paths]
    sizes, pixels = [p.stat().st_size for p in paths], []
    for p in paths:
        with Image.open(p) as image:
            pixels.append(image.width * image.height)
    cropped[(0, 0)]  # warm-up: lazy imports
    return {"decode_crop": _rate(cropped, len(files), repeats), "read_bytes": _rate(files, len(files), repeats),
            "files": len(files), "mean_kb": statistics.mean(sizes) / 1e3,
            "bytes_per_pixel": sum(sizes) / sum(pixels)}


def loader_rate(root, workers=1, batch_size=64, epochs=2):
    """images/s the training split's DataLoader delivers (CPU device) with `workers` worker processes,
    the epoch after the first (the workers persist): the per-image rate with the loader's overhead."""
    from ..data import folders

    data = folders.FolderData(Path(root) / "train", True, 1, workers)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        start = time.perf_counter()
        n = sum(len(y) for _, y in data.batches(batch_size, torch.device("cpu"), gen, shuffle=True))
        rate = n / (time.perf_counter() - start)
    return rate


def cores_per_gpu(gpu_rate, rate):
    """Worker cores one GPU needs: the images/s it consumes over the images/s of one core, rounded up."""
    return math.ceil(gpu_rate / rate)
