"""PASCAL VOC2012 instance segmentation read from the official layout (the `VOCdevkit/VOC2012` folder
of VOCtrainval_11-May-2012.tar, described in the devkit's doc/devkit_doc.pdf).

`JPEGImages/<id>.jpg`; `SegmentationObject/<id>.png` and `SegmentationClass/<id>.png` are palette
("P") PNGs whose indices are the labels: object PNG 0 background, 1..N the instances, 255 void (the
objects' borders and difficult regions); class PNG 0 background, 1..20 the classes in CLASSES' order,
255 void. `ImageSets/Segmentation/{train,val}.txt` list one id per line. Targets are those
torchvision's detection models take (boxes xyxy, labels, masks), as the torchvision detection
references build them from COCO.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLASSES = ("aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person "
           "pottedplant sheep sofa train tvmonitor").split()
VOID = 255
FOLDERS = ("JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation")


def files(root, image_id):
    root = Path(root)
    return (root / "JPEGImages" / f"{image_id}.jpg", root / "SegmentationObject" / f"{image_id}.png",
            root / "SegmentationClass" / f"{image_id}.png")


def ids(spec, split, size=None):
    """The ids listed for `split` (a name in ImageSets/Segmentation), the first `size` of them."""
    path = Path(spec["root"]) / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"datasets.{spec['key']}: {path} does not exist; set datasets.{spec['key']}.train_set / "
                                "test_set to a list in ImageSets/Segmentation (train, val)")
    listed = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return listed[:size] if size else listed


def check(spec):
    """The layout is complete: every listed id has its JPEG and both PNGs, class indices < num_classes."""
    key, root = spec["key"], Path(spec["root"])
    missing = [f for f in FOLDERS if not (root / f).is_dir()]
    if missing:
        raise FileNotFoundError(f"datasets.{key}.root: {root} lacks {', '.join(missing)}; point it at the "
                                "VOCdevkit/VOC2012 folder of the official VOCtrainval_11-May-2012.tar")
    counts = {}
    for name, split in (("train", spec["train_set"]), ("test", spec["test_set"])):
        listed = ids(spec, split)
        for image_id in listed:
            for path in files(root, image_id):
                if not path.is_file():
                    raise FileNotFoundError(f"datasets.{key}.root: {path} is missing ({split}.txt lists {image_id})")
            top = max(set(np.unique(read_png(files(root, image_id)[2]))) - {VOID}, default=0)
            if top >= spec["num_classes"]:
                raise ValueError(f"datasets.{key}.num_classes: {spec['num_classes']}, but {image_id}'s class PNG "
                                 f"has class {top}; VOC2012 has 21 (background + 20)")
        counts[name] = len(listed)
    return {"images": counts}


def read_png(path):
    with Image.open(path) as img:
        if img.mode != "P":
            raise ValueError(f"{path}: a {img.mode} PNG; VOC's labels are palette (P) PNGs")
        return np.array(img)


def instances(root, image_id):
    """(masks bool [K,H,W], labels [K]) of one image: an instance per object index (0 and 255 excepted)
    with the class most of its pixels have in the class PNG; instances without such pixels are skipped."""
    _, obj_path, cls_path = files(root, image_id)
    obj, cls = read_png(obj_path), read_png(cls_path)
    masks, labels = [], []
    for index in sorted(set(np.unique(obj).tolist()) - {0, VOID}):
        mask = obj == index
        votes = np.bincount(cls[mask], minlength=256)
        votes[[0, VOID]] = 0
        if mask.any() and votes.any():
            masks.append(mask)
            labels.append(int(votes.argmax()))
    return np.array(masks, dtype=bool).reshape(-1, *obj.shape), np.array(labels, dtype=np.int64)


def boxes_of(masks):
    """torchvision's xyxy boxes of binary masks: [x0, y0, x1 + 1, y1 + 1] over the set pixels."""
    out = np.zeros((len(masks), 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        out[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return out


def target(root, image_id, index):
    masks, labels = instances(root, image_id)
    return {"boxes": torch.from_numpy(boxes_of(masks)), "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(masks.astype(np.uint8)), "image_id": index}


class VOCInstances(torch.utils.data.Dataset):
    """(image float [3,H,W] in [0,1], target) pairs; `generator` set: a random horizontal flip (p=0.5)."""

    def __init__(self, spec, split, size=None, generator=None):
        self.root, self.generator = Path(spec["root"]), generator
        self.ids = ids(spec, split, size)

    def __len__(self):
        return len(self.ids)

    def target(self, index):
        return target(self.root, self.ids[index], index)

    def __getitem__(self, index):
        with Image.open(files(self.root, self.ids[index])[0]) as img:
            image = torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1).float().div_(255)
        tgt = self.target(index)
        if self.generator is not None and torch.rand((), generator=self.generator) < 0.5:
            image, tgt["masks"] = image.flip(-1), tgt["masks"].flip(-1)
            tgt["boxes"][:, [0, 2]] = image.shape[-1] - tgt["boxes"][:, [2, 0]]
        return image, tgt
