"""Tiny-ImageNet (64 px) from a local folder, as uint8 arrays the engine keeps on the device.

Layout (the official archive): ROOT/wnids.txt, ROOT/train/<wnid>/images/*.JPEG,
ROOT/val/images/*.JPEG with ROOT/val/val_annotations.txt. The official validation set is the
test split. Training images are ordered round-robin over classes (image i of every class,
then image i+1, ...), so "the last val_size images" is a class-balanced validation split.
"""

from pathlib import Path

import torch


def _decode(path):
    from torchvision.io import ImageReadMode, decode_image, read_file

    return decode_image(read_file(str(path)), mode=ImageReadMode.RGB)


def check(root, key, num_classes):
    """The class list (wnids.txt), after checking the folder is a Tiny-ImageNet copy."""
    if not (root / "wnids.txt").is_file() or not (root / "train").is_dir():
        raise FileNotFoundError(f"datasets.{key}.root: {root} is not a Tiny-ImageNet folder (expected "
                                "wnids.txt, train/<wnid>/images/, val/images/ and val/val_annotations.txt)")
    wnids = (root / "wnids.txt").read_text().split()
    if len(wnids) != num_classes:
        raise ValueError(f"datasets.{key}: {root}/wnids.txt lists {len(wnids)} classes, num_classes is {num_classes}")
    return wnids


def train_files(root, wnids, key):
    """[(class, path)] round-robin over classes: image i of every class, then image i+1, ..."""
    per_class = [sorted((root / "train" / w / "images").glob("*.JPEG")) for w in wnids]
    if not any(per_class):
        raise ValueError(f"datasets.{key}: {root}/train holds no images")
    return [(c, files[i]) for i in range(max(map(len, per_class)))
            for c, files in enumerate(per_class) if i < len(files)]


def val_files(root, wnids, key):
    """[(class, path)] of the official validation set, in val_annotations.txt's order."""
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise FileNotFoundError(f"datasets.{key}.root: {ann} is missing")
    index = {w: i for i, w in enumerate(wnids)}
    out = []
    for n, line in enumerate(ann.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in index:
            raise ValueError(f"datasets.{key}: {ann} line {n} is not 'FILE<tab>WNID<tab>...' with a wnid of wnids.txt")
        out.append((index[parts[1]], root / "val" / "images" / parts[0]))
    return out


def load(spec, train):
    root = Path(spec["root"])
    wnids = check(root, spec["key"], spec["num_classes"])
    order = train_files(root, wnids, spec["key"]) if train else val_files(root, wnids, spec["key"])
    x = torch.stack([_decode(path) for _, path in order])
    y = torch.tensor([c for c, _ in order], dtype=torch.int64)
    return x, y
