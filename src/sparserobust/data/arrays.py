"""Datasets and splits: CIFAR-10/100 and SVHN (torchvision layout), ImageNet-style folders, the demo family.

Array datasets are uint8 NCHW tensors that the engine moves to the device once and
augments there in batches. Splits follow the papers: train = the first `train_size`
images of the official training set, validation = the last `val_size`, test = the official
test set; data-limited runs take the first N of the training split.
"""

from dataclasses import dataclass

import torch

from . import demo as demo_data


@dataclass
class ArrayData:
    x: torch.Tensor  # uint8 [N, C, H, W]
    y: torch.Tensor  # int64 [N]
    num_classes: int

    def __len__(self):
        return len(self.y)

    def take(self, index):
        return ArrayData(self.x[index], self.y[index], self.num_classes)


def _torchvision_split(spec, train):
    """torchvision's on-disk layout, read directly: the prepare_dataset rule downloaded or verified it."""
    from . import official

    x, y = official.read(spec, train)
    return torch.from_numpy(x), torch.from_numpy(y)


def _official(spec, train):
    if spec["kind"] == "demo":
        n = spec["train_size"] + spec["val_size"] if train else spec["test_size"]
        return demo_data.generate(spec["task_seed"], spec["num_classes"], n, 0 if train else 1,
                                  size=spec.get("image_size", 16), noise=spec.get("noise", 0.2))
    if spec["kind"] == "torchvision":
        return _torchvision_split(spec, train)
    if spec["kind"] == "tinyimagenet":
        from . import tinyimagenet

        return tinyimagenet.load(spec, train)
    raise ValueError(f"datasets.{spec['key']}.kind {spec['kind']!r} has no array loader")


def check_labels(spec, y, where):
    k = spec["num_classes"]
    if len(y) == 0:
        raise ValueError(f"datasets.{spec['key']}: the {where} split is empty")
    if int(y.min()) < 0 or int(y.max()) >= k:
        raise ValueError(f"datasets.{spec['key']}: labels in the {where} split span "
                         f"{int(y.min())}..{int(y.max())} but num_classes is {k}")


def limit(train, fraction, rule="first", seed=0):
    """Data-limited training split: the first N images (the papers) or a seeded class-balanced subset."""
    n = max(1, round(fraction * len(train)))
    if fraction >= 1.0:
        return train
    if rule == "first":
        return train.take(slice(0, n))
    if rule != "balanced":
        raise ValueError(f"transfer.subset: {rule!r} is unknown; use first or balanced")
    gen = torch.Generator().manual_seed(seed)
    k = train.num_classes
    picks = []
    for c in range(k):
        idx = (train.y == c).nonzero().flatten()
        want = n // k + (1 if c < n % k else 0)
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:want]])
    return train.take(torch.cat(picks).sort().values)


def load_splits(spec, fraction=1.0, rule="first", seed=0):
    """{'train', 'val', 'test'} ArrayData of a dataset spec (a config entry with its 'key')."""
    if spec["kind"] in ("cub200", "visda2017"):  # image lists, streamed (data/imagelist.py)
        from . import imagelist

        return imagelist.load_splits(spec, fraction, rule, seed)
    x, y = _official(spec, True)
    n_train, n_val = spec["train_size"], spec["val_size"]
    if n_train + n_val > len(y):
        raise ValueError(f"datasets.{spec['key']}: train_size + val_size = {n_train + n_val} "
                         f"exceeds the {len(y)} training images found")
    full = ArrayData(x, y, spec["num_classes"])
    train = limit(full.take(slice(0, n_train)), fraction, rule, seed)
    val = full.take(slice(len(y) - n_val, len(y)))
    xt, yt = _official(spec, False)
    test = ArrayData(xt, yt, spec["num_classes"]).take(slice(0, spec.get("test_size", len(yt))))
    for name, part in (("train", train), ("validation", val), ("test", test)):
        check_labels(spec, part.y, name)
    return {"train": train, "val": val, "test": test}


def batches(data, batch_size, device, hp=None, generator=None, shuffle=False, drop_last=False):
    """Yield (x float [0, 1], y) batches on `device`; `data` already lives on the device."""
    from . import augment

    if not isinstance(data, ArrayData):  # streamed folders bring their own transforms
        yield from data.batches(batch_size, device, generator, shuffle)
        return
    n = len(data)
    order = torch.randperm(n, generator=generator).to(device) if shuffle else torch.arange(n, device=device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    dev_gen = None
    if hp is not None and hp.kind != "none" and generator is not None:
        dev_gen = torch.Generator(device=device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        x = data.x[idx]
        x = augment.apply(x, hp, dev_gen) if hp is not None else x.to(torch.get_default_dtype()).div_(255.0)
        yield x.contiguous(memory_format=torch.channels_last), data.y[idx]


def to_device(data, device):
    if not isinstance(data, ArrayData):
        return data
    return ArrayData(data.x.to(device), data.y.to(device), data.num_classes)
