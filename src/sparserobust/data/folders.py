"""ImageNet-style folders (root/train/<class>/*, root/val/<class>/*) streamed with worker processes.

Too large to hold on the device: images are decoded and cropped on CPU workers
(RandomResizedCrop 224 + flip for training, Resize 256 + CenterCrop 224 for evaluation)
and arrive as uint8 batches, the same form as the array datasets.
"""

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class FolderData:
    root: Path
    train: bool
    num_classes: int
    workers: int = 8

    def dataset(self):
        from torchvision import datasets, transforms

        if self.train:
            tf = [transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()]
        else:
            tf = [transforms.Resize(256), transforms.CenterCrop(224)]
        return datasets.ImageFolder(str(self.root), transforms.Compose(tf + [transforms.PILToTensor()]))

    def batches(self, batch_size, device, generator=None, shuffle=False):
        """Batches of this process's share (under torchrun) of each global batch of `batch_size`;
        under torchrun a last, smaller global batch is left out, so every share is equal."""
        from ..foundations import distributed

        dataset = self.dataset()
        n = len(dataset)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if distributed.active() and n >= batch_size else n  # equal shares under DDP
        plan = [order[i:i + batch_size][distributed.rank()::distributed.world()].tolist()
                for i in range(0, stop, batch_size)]
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=plan, num_workers=self.workers,
                                             pin_memory=device.type == "cuda", persistent_workers=False)
        for x, y in loader:
            x = x.to(device, non_blocking=True).to(torch.get_default_dtype()).div_(255.0)
            x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(device, non_blocking=True)

    def __len__(self):
        return len(self.dataset())


def check_layout(ds):
    """Fail early, naming the setting, when the folder is missing, empty or has the wrong classes."""
    root = Path(ds["root"])
    for part in ("train", "val"):
        folder = root / part
        if not folder.is_dir():
            raise FileNotFoundError(f"datasets.{ds['key']}.root: {folder} does not exist; expected "
                                    f"{root}/train/<class>/<image> and {root}/val/<class>/<image>")
        classes = [d for d in folder.iterdir() if d.is_dir()]
        if len(classes) != ds["num_classes"]:
            raise ValueError(f"datasets.{ds['key']}: {folder} has {len(classes)} class folders, "
                             f"num_classes is {ds['num_classes']}")
        if not any(f.is_file() for d in classes[:1] for f in d.iterdir()):
            raise ValueError(f"datasets.{ds['key']}: {classes[0]} holds no images")


def splits(ds):
    check_layout(ds)
    root = Path(ds["root"])
    workers = ds.get("workers", 8)
    return {"train": FolderData(root / "train", True, ds["num_classes"], workers),
            "val": FolderData(root / "val", False, ds["num_classes"], workers)}
