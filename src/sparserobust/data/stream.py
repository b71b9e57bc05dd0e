"""Image files streamed to the training device by worker processes: the machinery the ImageNet folders
(folders.py) and the image lists (imagelist.py) share.

Each dataset object builds one DataLoader, on its first pass, and reuses it for every later pass: the
worker processes stay up across epochs and each pass hands them only a new batch plan. A plan holds
this process's share (under torchrun) of every global batch as (image index, crop seed) pairs. Every
training image draws its crop from its own seed, taken from the caller's generator together with the
shuffle, so one generator gives the same batches whatever the number of workers.

decode "cpu": workers decode (PIL) and crop, batches arrive as uint8 images. decode "gpu": workers only
read the files' bytes, and the batch is decoded and cropped on the training device (gpudecode.py).
"""

import copy
import os

import numpy as np
import torch

from . import gpudecode

DECODES = ("cpu", "gpu")
PREFETCH = 2  # batches each worker keeps ready (DataLoader's prefetch_factor)


class Samples(torch.utils.data.Dataset):
    """(path, label) pairs held as numpy arrays: paths as bytes, so worker processes index them without
    touching one Python object per image (no copy-on-write growth of the workers over an epoch).
    transform None: an item is the file's bytes; else the decoded RGB image through `transform`."""

    def __init__(self, items, transform=None):
        self.paths = np.array([os.fsencode(path) for path, _ in items], dtype=bytes)
        self.labels = np.array([label for _, label in items], dtype=np.int64)
        self.transform = transform

    def with_transform(self, transform):
        """The same samples (the arrays shared, not copied) read through `transform`."""
        out = copy.copy(self)
        out.transform = transform
        return out

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, key):
        index, seed = key
        path, label = os.fsdecode(self.paths[index]), int(self.labels[index])
        if self.transform is None:
            with open(path, "rb") as handle:
                return torch.frombuffer(bytearray(handle.read()), dtype=torch.uint8), label, seed
        from PIL import Image

        with Image.open(path) as file:
            image = file.convert("RGB")  # grayscale and CMYK files too
        with torch.random.fork_rng(devices=[]):  # the crop's randomness from this image's seed only
            torch.default_generator.manual_seed(seed)
            return self.transform(image), label


def collate_bytes(items):
    """A batch of files as one uint8 tensor of their bytes end to end, their lengths, labels and seeds:
    one shared-memory block per batch instead of one per file."""
    files, labels, seeds = zip(*items)
    return (torch.cat(files), torch.tensor([len(f) for f in files]), torch.tensor(labels), torch.tensor(seeds))


def plan(n, batch_size, generator=None, shuffle=False, train=False):
    """This process's share of each global batch of `batch_size` as [(index, seed)] lists; under torchrun
    a last, smaller global batch is left out, so every share is equal. The generator draws the order, then
    one crop seed per image (training only; evaluation views are not random)."""
    from ..foundations import distributed

    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    seeds = torch.randint(2**62, (n,), generator=generator) if train else torch.zeros(n, dtype=torch.int64)
    pairs = list(zip(order.tolist(), seeds[order].tolist()))
    stop = n - n % batch_size if distributed.active() and n >= batch_size else n  # equal shares under DDP
    return [pairs[i:i + batch_size][distributed.rank()::distributed.world()] for i in range(0, stop, batch_size)]


class _Plan:
    """The batch sampler: the loader iterates whatever plan the current pass put here."""

    batches = ()

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


class Stream:
    """One DataLoader over `samples`, built on the first pass; its workers serve every later pass.
    `view`: the crop as torchvision transforms, applied by the workers (decode cpu) or on the device (gpu)."""

    def __init__(self, samples, view, workers, decode="cpu", prefetch=PREFETCH):
        from torchvision import transforms

        self.workers, self.prefetch = workers, prefetch
        self.decode = gpudecode.Decode(transforms.Compose(view), "decode") if decode == "gpu" else None
        self.samples = samples.with_transform(None if self.decode else
                                              transforms.Compose([*view, transforms.PILToTensor()]))
        self._sampler, self._loader, self._passes = _Plan(), None, 0

    def loader(self, pin):
        if self._loader is None or self._loader.pin_memory != pin:
            w = self.workers
            self._loader = torch.utils.data.DataLoader(
                self.samples, batch_sampler=self._sampler, num_workers=w, pin_memory=pin,
                persistent_workers=w > 0, prefetch_factor=self.prefetch if w else None,
                collate_fn=collate_bytes if self.decode else None,
                generator=torch.Generator().manual_seed(0))  # leaves the global RNG alone
        return self._loader

    def run(self, batches, device):
        """The loader's batches for this plan. Passes run one at a time: a pass started while another
        is unfinished takes over the shared workers, and the older one then fails loudly."""
        self._passes += 1
        mine = self._passes
        self._sampler.batches = batches
        for batch in self.loader(device.type == "cuda"):
            if self._passes != mine:
                raise RuntimeError("two passes over one streamed dataset at once; finish one before the next")
            yield batch

    def batches(self, batches, device):
        """(x float [0, 1] channels_last, y) on `device` for a plan."""
        for batch in self.run(batches, device):
            if self.decode is None:
                x, y = batch
                x = x.to(device, non_blocking=True)
            else:
                x, y = self.decode(*batch, device)
            x = x.to(torch.get_default_dtype()).div_(255.0)
            yield x.contiguous(memory_format=torch.channels_last), y.to(device, non_blocking=True)


def check_decode(spec):
    """The dataset's decode setting (default cpu); for gpu, fail now, before any training, if the
    decoder cannot be imported."""
    decode = spec.get("decode", "cpu")
    if decode not in DECODES:
        raise ValueError(f"datasets.{spec['key']}.decode: {decode!r} is neither cpu nor gpu")
    if decode == "gpu":
        gpudecode.decoder(f"datasets.{spec['key']}.decode")
    return decode
