"""Datasets given as lists of (image file, label), streamed like the ImageNet folders (data/folders.py):
CUB-200-2011 (data/cub.py) and VisDA-2017 (data/visda.py).

Images are decoded on CPU workers (PIL, grayscale files converted to RGB; or on the training device
with decode: gpu) and cropped with torchvision's transforms: training view RandomResizedCrop(crop, scale)
+ RandomHorizontalFlip, evaluation view Resize(resize) + CenterCrop(crop); they arrive as uint8 and leave
as float [0, 1] channels_last batches. Every training image draws its crop from its own seed, taken from
the caller's generator with the shuffle, so a seed gives the same batches whatever the worker count; the
worker processes stay up across epochs (stream.py).
"""

import importlib
from dataclasses import dataclass, field

import torch

from . import arrays, stream

VIEWS = {"crop": 224, "resize": 256, "scale": [0.08, 1.0]}  # torchvision's ImageNet recipe, the papers' views
READERS = {"cub200": "cub", "visda2017": "visda"}


@dataclass
class ListData:
    items: list  # [(path, label)]
    train: bool
    num_classes: int
    views: dict = field(default_factory=lambda: dict(VIEWS))
    workers: int = 8
    decode: str = "cpu"
    prefetch: int = stream.PREFETCH
    _stream: object = field(default=None, init=False, repr=False, compare=False)

    def view(self):
        """The crop as torchvision transforms (they take PIL images and CHW tensors alike)."""
        from torchvision import transforms

        v = {**VIEWS, **self.views}
        if self.train:
            return [transforms.RandomResizedCrop(v["crop"], scale=tuple(v["scale"])), transforms.RandomHorizontalFlip()]
        resize = v["resize"] if isinstance(v["resize"], int) else tuple(v["resize"])  # [h, w]: that exact size
        return [transforms.Resize(resize), transforms.CenterCrop(v["crop"])]

    def batches(self, batch_size, device, generator=None, shuffle=False):
        """Batches of this process's share (under torchrun) of each global batch of `batch_size`;
        under torchrun a last, smaller global batch is left out, so every share is equal."""
        if self._stream is None:  # built on the first pass; its worker processes serve every later one
            self._stream = stream.Stream(stream.Samples(self.items), self.view(), self.workers, self.decode,
                                         self.prefetch)
        plan = stream.plan(len(self.items), batch_size, generator, shuffle, self.train)
        yield from self._stream.batches(plan, device)

    def __len__(self):
        return len(self.items)

    def take(self, index):
        """A new ListData of the items at `index`: a slice, positions (list or tensor) or a boolean mask."""
        if isinstance(index, slice):
            picked = self.items[index]
        else:
            index = torch.as_tensor(index)
            index = index.nonzero().flatten() if index.dtype == torch.bool else index.reshape(-1)
            picked = [self.items[i] for i in index.tolist()]
        return ListData(picked, self.train, self.num_classes, self.views, self.workers, self.decode, self.prefetch)

    @property
    def y(self):
        return torch.tensor([label for _, label in self.items], dtype=torch.int64)


def balanced_order(items):
    """Items round-robin over classes, aligned at the end: the last image of every class comes last
    (in class order), before it the second-to-last of every class, and so on. With equal class sizes
    this is 'image i of every class, then image i+1' (data/tinyimagenet.py); with unequal ones the
    last k x C items are still exactly the last k images of each of the C classes."""
    per_class = {}
    for item in items:
        per_class.setdefault(item[1], []).append(item)
    classes = [per_class[c] for c in sorted(per_class)]
    depth = max(map(len, classes), default=0)
    return [files[len(files) - depth + i] for i in range(depth) for files in classes if len(files) - depth + i >= 0]


def reader(kind):
    """The module (data/cub.py, data/visda.py) with read(spec) and check(spec) for a dataset kind."""
    if kind not in READERS:
        raise ValueError(f"kind {kind!r} is not an image-list dataset; known: {sorted(READERS)}")
    return importlib.import_module(f"{__package__}.{READERS[kind]}")


def load_splits(spec, fraction=1.0, rule="first", seed=0, read=None):
    """{'train', 'val', 'test'} ListData of a spec. read(spec) -> (train items, test items) defaults to the
    kind's reader, the views to its VIEWS updated by the spec's. val_from 'train' (default): train = the
    first train_size images of the balanced order, val = its last val_size; 'test': val is the test split
    itself (model selection on it, as the authors' VisDA loader does). The test items are in balanced
    order too, so test_size takes every class."""
    source = reader(spec["kind"]) if read is None else None
    train_items, test_items = (read or source.read)(spec)
    views = {**getattr(source, "VIEWS", VIEWS), **spec.get("views", {})}
    k, streaming = spec["num_classes"], (spec.get("workers", 8), stream.check_decode(spec),
                                         spec.get("prefetch", stream.PREFETCH))
    train_items, test_items = balanced_order(train_items), balanced_order(test_items)
    val_from = spec.get("val_from", "train")
    if val_from not in ("train", "test"):
        raise ValueError(f"datasets.{spec['key']}.val_from: {val_from!r} is neither train nor test")
    n_val = spec["val_size"] if val_from == "train" else 0
    n_train = spec.get("train_size", len(train_items) - n_val)
    if n_train + n_val > len(train_items):
        what = "train_size + val_size" if val_from == "train" else "train_size (val_from: test)"
        raise ValueError(f"datasets.{spec['key']}: {what} = {n_train + n_val} exceeds the {len(train_items)} "
                         "training images found")
    full = ListData(train_items, True, k, views, *streaming)
    train = arrays.limit(full.take(slice(0, n_train)), fraction, rule, seed)
    test = ListData(test_items[:spec.get("test_size", len(test_items))], False, k, views, *streaming)
    val = test if val_from == "test" else ListData(train_items[len(train_items) - n_val:], False, k, views, *streaming)
    for name, part in (("train", train), ("validation", val), ("test", test)):
        arrays.check_labels(spec, part.y, name)
    return {"train": train, "val": val, "test": test}
