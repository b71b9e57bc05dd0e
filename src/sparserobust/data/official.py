"""CIFAR-10, CIFAR-100 and SVHN read from torchvision's on-disk layout, and that layout's checks.

The files are the official python-version CIFAR pickles (`cifar-10-batches-py/`,
`cifar-100-python/`) and the SVHN MATLAB files (`train_32x32.mat`, `test_32x32.mat`) under
one root, exactly where `torchvision.datasets` puts them. Verifying them against the
published md5 sums (taken from torchvision's own tables) and downloading them are the
`prepare_dataset` rule's work, done once per dataset; training jobs only read.
"""

import pickle
from pathlib import Path

import numpy as np


def _classes(name):
    import torchvision.datasets as tvd

    return {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "svhn": tvd.SVHN}[name]


def files(name, train):
    """[(relative path, published md5)] of one split, from torchvision's tables."""
    cls = _classes(name)
    if name == "svhn":
        _, filename, md5 = cls.split_list["train" if train else "test"]
        return [(filename, md5)]
    listed = cls.train_list if train else cls.test_list
    return [(f"{cls.base_folder}/{f}", md5) for f, md5 in listed]


def all_files(name):
    out = files(name, True) + files(name, False)
    if name != "svhn":
        cls = _classes(name)
        out.append((f"{cls.base_folder}/{cls.meta['filename']}", cls.meta["md5"]))
    return out


def _missing_message(spec, root, missing):
    key = spec["key"]
    return (f"datasets.{key}.root: {root} does not hold the {spec['name']} files in torchvision's layout "
            f"(missing {', '.join(missing[:3])}). Point datasets.{key}.root at the folder that holds them "
            f"(for CIFAR the folder containing cifar-10-batches-py / cifar-100-python, for SVHN the one "
            f"containing train_32x32.mat), or set datasets.{key}.download: true on a machine with network")


def check(spec, checksums=True):
    """Every file of the dataset is present and, with `checksums`, has the published md5.
    Returns [{file, bytes, md5}] for the manifest; raises naming the setting and the fix."""
    from torchvision.datasets.utils import calculate_md5

    root = Path(spec["root"])
    listed = all_files(spec["name"])
    missing = [f for f, _ in listed if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(_missing_message(spec, root, missing))
    out = []
    for rel, md5 in listed:
        actual = calculate_md5(str(root / rel)) if checksums else None
        if checksums and actual != md5:
            raise ValueError(f"datasets.{spec['key']}: {root / rel} has md5 {actual}, the published file has "
                             f"{md5}: it is corrupt or not the official file; delete it and download it again "
                             "(download: true). Only for fabricated test data: dataset_checksums: skip")
        out.append({"file": rel, "bytes": (root / rel).stat().st_size, "md5": actual})
    return out


def download(spec):
    """Fetch the official archive with torchvision (it verifies the published md5)."""
    cls = _classes(spec["name"])
    root = str(spec["root"])
    for train in (True, False):
        if spec["name"] == "svhn":
            cls(root, split="train" if train else "test", download=True)
        else:
            cls(root, train=train, download=True)


def _unpickle(path):
    with open(path, "rb") as handle:
        return pickle.load(handle, encoding="latin1")


def read(spec, train):
    """(uint8 [N, 3, 32, 32], int64 [N]) of the official training or test split."""
    root = Path(spec["root"])
    name = spec["name"]
    missing = [f for f, _ in files(name, train) if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(_missing_message(spec, root, missing))
    if name == "svhn":
        from scipy.io import loadmat

        mat = loadmat(str(root / files(name, train)[0][0]))
        x = np.transpose(mat["X"], (3, 2, 0, 1))
        y = mat["y"].astype(np.int64).squeeze(1) % 10  # the files label digit 0 as 10
        return np.ascontiguousarray(x), y
    xs, ys = [], []
    for rel, _ in files(name, train):
        entry = _unpickle(root / rel)
        xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(entry["labels"] if "labels" in entry else entry["fine_labels"], dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)
