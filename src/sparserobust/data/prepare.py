"""The prepare_dataset stage: download a dataset once (download: true) or verify the local copy,
then write a small manifest that every training job of that dataset takes as input.

Runs on the submitting node (a local rule), so compute nodes never need the network and
hundreds of jobs never write into one data folder at once. What it checks per kind:
torchvision (CIFAR-10/100, SVHN) every official file and its published md5; imagefolder the
train/ and val/ class folders and their image counts; tinyimagenet wnids.txt, the training
images and val/val_annotations.txt with every file it lists; demo nothing (generated).
"""

from pathlib import Path

from ..foundations import provenance
from . import folders, official, tinyimagenet


def _count_folder(root):
    return {part: sum(1 for d in (root / part).iterdir() if d.is_dir() for f in d.iterdir() if f.is_file())
            for part in ("train", "val")}


def _check_tiny(spec):
    root = Path(spec["root"])
    wnids = tinyimagenet.check(root, spec["key"], spec["num_classes"])
    train = tinyimagenet.train_files(root, wnids, spec["key"])
    val = tinyimagenet.val_files(root, wnids, spec["key"])
    missing = [str(p) for _, p in val if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"datasets.{spec['key']}.root: {len(missing)} images listed in "
                                f"val/val_annotations.txt are missing, e.g. {missing[0]}")
    return {"train": len(train), "val": len(val)}


def check(spec, checksums="official"):
    """What the manifest records of one dataset; raises (naming the setting) when it is not usable."""
    kind = spec["kind"]
    if kind == "torchvision":
        files = official.check(spec, checksums == "official")
        return {"files": files}
    if kind == "imagefolder":
        folders.check_layout(spec)
        return {"images": _count_folder(Path(spec["root"]))}
    if kind == "tinyimagenet":
        return {"images": _check_tiny(spec)}
    if kind == "demo":
        return {"images": {"train": spec["train_size"] + spec["val_size"], "test": spec["test_size"]}}
    raise ValueError(f"datasets.{spec['key']}.kind {kind!r} is unknown")


def dataset(spec, checksums, out, log):
    if spec.get("download") and spec["kind"] == "torchvision":
        log(f"datasets.{spec['key']}: downloading {spec['name']} into {spec['root']}")
        official.download(spec)
    found = check(spec, checksums)
    root = str(Path(spec["root"]).resolve()) if "root" in spec else None
    how = "md5 " + checksums if spec["kind"] == "torchvision" else spec["kind"]
    log(f"datasets.{spec['key']}: {root or 'generated'} ok ({how})")
    provenance.write_json(out, {"dataset": spec["key"], "kind": spec["kind"], "root": root,
                                "checksums": checksums if spec["kind"] == "torchvision" else None, **found,
                                "provenance": provenance.record(spec)})
