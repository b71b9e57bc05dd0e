"""VisDA-2017 classification track (ai.bu.edu/visda-2017; github.com/VisionLearningGroup/taskcv-2017-public)
read from the folders of its train.tar and validation.tar: train/ holds 152,397 synthetic renderings
of CAD models (PNG), validation/ 55,388 real object crops from MS-COCO (JPEG); each domain folder has
an image_list.txt of '<path relative to the folder> <label 0..11>' lines, e.g.
'aeroplane/src_1_02691156_<model hash>__<yaw>_<light>_<pitch>.png 0'. 12 classes, CLASSES in label order.

Config keys train_domain (default train) and test_domain (default validation) name the two folders.
The views default to the authors' (Double-Win-LTH dataset.py visda_loader): RandomResizedCrop 224 with
scale (0.75, 1.33) + flip for training, a plain resize to 224 x 224 for evaluation.
"""

from pathlib import Path

CLASSES = "aeroplane bicycle bus car horse knife motorcycle person plant skateboard train truck".split()
DOMAINS = {"train_domain": "train", "test_domain": "validation"}
VIEWS = {"crop": 224, "resize": [224, 224], "scale": [0.75, 1.33]}
LAYOUT = "the train/ and validation/ folders of VisDA-2017's train.tar and validation.tar, each with image_list.txt"


def _listing(spec, setting):
    """[(path, label)] of one domain folder's image_list.txt, in the file's order."""
    root, key, k = Path(spec["root"]), spec["key"], spec["num_classes"]
    domain = spec.get(setting, DOMAINS[setting])
    listing = root / domain / "image_list.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"datasets.{key}.root: {listing} does not exist (datasets.{key}.{setting} is "
                                f"{domain!r}); expected {LAYOUT}")
    items = []
    for n, line in enumerate(listing.read_text().splitlines(), 1):
        parts = line.rsplit(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"datasets.{key}.root: {listing} line {n} is not '<relative path> <label>'")
        if not 0 <= int(parts[1]) < k:
            raise ValueError(f"datasets.{key}.num_classes: {listing} line {n} has label {parts[1]}, "
                             f"outside 0..{k - 1} (num_classes is {k})")
        items.append((root / domain / parts[0], int(parts[1])))
    if not items:
        raise ValueError(f"datasets.{key}.root: {listing} lists no images")
    return items


def read(spec):
    """(training-domain items, test-domain items): [(path, label)] each, in image_list.txt order."""
    return _listing(spec, "train_domain"), _listing(spec, "test_domain")


def check(spec):
    """The prepare step's check: both lists parse, the training domain has every class, every image exists."""
    key, k = spec["key"], spec["num_classes"]
    train, test = read(spec)
    found = len({c for _, c in train})
    if found != k:
        raise ValueError(f"datasets.{key}.num_classes: {k}, but the training domain's image_list.txt has "
                         f"labels of {found} classes")
    missing = [str(p) for p, _ in train + test if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"datasets.{key}.root: {len(missing)} images listed in image_list.txt are "
                                f"missing, e.g. {missing[0]}; extract the whole train.tar and validation.tar")
    return {"images": {"train": len(train), "test": len(test)}}
