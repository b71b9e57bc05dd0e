"""CUB-200-2011 (Caltech-UCSD Birds, www.vision.caltech.edu/datasets/cub_200_2011) read from the
CUB_200_2011/ folder of the official CUB_200_2011.tgz: images/<class folder>/<file>.jpg and the
index files of its README: images.txt '<image id> <path under images/>', image_class_labels.txt
'<image id> <class id 1..200>', train_test_split.txt '<image id> <1 training | 0 test>' and
classes.txt '<class id> <class folder>'. 11,788 images of 200 classes: 5,994 training, 5,794 test.
Labels here are 0-based (class id - 1); images come in image-id order.
"""

from pathlib import Path

from . import imagelist

VIEWS = imagelist.VIEWS  # the ImageNet views: RandomResizedCrop 224 + flip; Resize 256 + CenterCrop 224
FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt")
LAYOUT = "the CUB_200_2011 folder of the official CUB_200_2011.tgz (images/, " + ", ".join(FILES) + ")"


def _table(path, key):
    """{id: value} of a '<id> <value>' index file; a malformed line or a repeated id is refused."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit() or parts[0] in out:
            raise ValueError(f"datasets.{key}.root: {path} line {n} is not '<id> <value>' with a new integer id")
        out[parts[0]] = parts[1].strip()
    return out


def _rows(spec):
    """[(image id, path, 0-based label, is_train)] in image-id order, after checking the index files agree."""
    root, key, k = Path(spec["root"]), spec["key"], spec["num_classes"]
    for name in FILES:
        if not (root / name).is_file():
            raise FileNotFoundError(f"datasets.{key}.root: {root / name} does not exist; expected {LAYOUT}")
    images, labels, split, classes = (_table(root / name, key) for name in FILES)
    for name, table in (("image_class_labels.txt", labels), ("train_test_split.txt", split)):
        if set(table) != set(images):
            odd = sorted(set(table) ^ set(images), key=int)[0]
            raise ValueError(f"datasets.{key}.root: image id {odd} is in only one of images.txt and {name}; "
                             "the index files must list the same ids (use the files of one CUB_200_2011.tgz)")
    if len(classes) != k:
        raise ValueError(f"datasets.{key}.num_classes: {k}, but {root}/classes.txt lists {len(classes)} classes")
    rows = []
    for i in sorted(images, key=int):
        if not labels[i].isdigit() or not 1 <= int(labels[i]) <= k or split[i] not in ("0", "1"):
            raise ValueError(f"datasets.{key}.root: image {i} has class {labels[i]!r} (expected 1..{k}, "
                             f"num_classes) or split {split[i]!r} (expected 1 or 0)")
        rows.append((i, root / "images" / images[i], int(labels[i]) - 1, split[i] == "1"))
    return rows


def read(spec):
    """(training items, test items): [(path, 0-based label)] each, in image-id order."""
    rows = _rows(spec)
    return [(p, c) for _, p, c, t in rows if t], [(p, c) for _, p, c, t in rows if not t]


def check(spec):
    """The prepare step's check: the index files agree and every listed image exists."""
    rows = _rows(spec)
    missing = [str(p) for _, p, _, _ in rows if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"datasets.{spec['key']}.root: {len(missing)} images listed in images.txt are "
                                f"missing, e.g. {missing[0]}; extract the whole CUB_200_2011.tgz")
    train = sum(t for *_, t in rows)
    return {"images": {"train": train, "test": len(rows) - train}}
