"""ImageNet-style folders (root/train/<class>/*, root/val/<class>/*) streamed with worker processes.

Too large to hold on the device: images are decoded and cropped on CPU workers (decode: cpu;
RandomResizedCrop 224 + flip for training, Resize 256 + CenterCrop 224 for evaluation) and arrive as
uint8 batches, the same form as the array datasets; with decode: gpu the workers only read the files
and the training device decodes and crops (gpudecode.py). The folder is scanned once per FolderData
and its worker processes serve every epoch (stream.py); each training image's crop comes from its own
seed, drawn from the caller's generator, so a seed gives the same batches whatever the worker count.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import stream


@dataclass
class FolderData:
    root: Path
    train: bool
    num_classes: int
    workers: int = 8
    decode: str = "cpu"
    prefetch: int = stream.PREFETCH
    _samples: object = field(default=None, init=False, repr=False, compare=False)
    _stream: object = field(default=None, init=False, repr=False, compare=False)

    def view(self):
        """The crop as torchvision transforms (they take PIL images and CHW tensors alike)."""
        from torchvision import transforms

        if self.train:
            return [transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()]
        return [transforms.Resize(256), transforms.CenterCrop(224)]

    def samples(self):
        """The folder's (path, class index) pairs as torchvision's ImageFolder lists them, scanned once."""
        if self._samples is None:
            from torchvision.datasets import folder

            classes = folder.find_classes(str(self.root))[1]
            self._samples = stream.Samples(folder.make_dataset(str(self.root), classes,
                                                               extensions=folder.IMG_EXTENSIONS))
        return self._samples

    def batches(self, batch_size, device, generator=None, shuffle=False):
        """Batches of this process's share (under torchrun) of each global batch of `batch_size`;
        under torchrun a last, smaller global batch is left out, so every share is equal."""
        if self._stream is None:
            self._stream = stream.Stream(self.samples(), self.view(), self.workers, self.decode, self.prefetch)
        plan = stream.plan(len(self), batch_size, generator, shuffle, self.train)
        yield from self._stream.batches(plan, device)

    def __len__(self):
        return len(self.samples())


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
    """{'train', 'val'} FolderData of a dataset spec; a decode: gpu that cannot run fails here, before training."""
    check_layout(ds)
    root = Path(ds["root"])
    args = (ds["num_classes"], ds.get("workers", 8), stream.check_decode(ds), ds.get("prefetch", stream.PREFETCH))
    return {"train": FolderData(root / "train", True, *args), "val": FolderData(root / "val", False, *args)}
