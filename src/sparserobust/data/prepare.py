"""The prepare_dataset stage: download a dataset once (download: true) or verify the local copy,
then write a small manifest that every training job of that dataset takes as input.

Runs on the submitting node (a local rule), so compute nodes never need the network and
hundreds of jobs never write into one data folder at once. What it checks per kind:
torchvision (CIFAR-10/100, SVHN) every official file and its published md5; imagefolder the
train/ and val/ class folders and their image counts; tinyimagenet wnids.txt, the training
images and val/val_annotations.txt with every file it lists; cub200, visda2017 and voc their
index files and every image they list; demo nothing (generated).

A dataset entry with `fabricate:` (the demo's and the test configs' only) has a small copy written
in its official layout at its root first, by sparserobust.data.fabricate_lists or
sparserobust.data.fabricate_voc with those options, so the real readers run on real files.
"""

import json
import shutil
import tempfile
from pathlib import Path

from ..foundations import provenance
from . import folders, official, tinyimagenet

MARKER = ".fabricated.json"  # the options a fabricated copy was written with


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
    if kind in LAYOUTS:
        return LAYOUTS[kind]()[0](spec)
    if kind == "demo":
        return {"images": {"train": spec["train_size"] + spec["val_size"], "test": spec["test_size"]}}
    raise ValueError(f"datasets.{spec['key']}.kind {kind!r} is unknown")


def _cub():
    from . import cub, fabricate_lists

    return cub.check, fabricate_lists.write_cub


def _visda():
    from . import fabricate_lists, visda

    return visda.check, fabricate_lists.write_visda


def _voc():
    from . import fabricate_voc, voc

    return voc.check, fabricate_voc.write


LAYOUTS = {"cub200": _cub, "visda2017": _visda, "voc": _voc}  # kind -> () -> (check, fabricate)


def fabricate(spec, log):
    """Write the small official-layout copy that `fabricate:` describes, unless it is there already
    (with the same options); built in a temporary sibling folder and renamed into place."""
    root, options = Path(spec["root"]), spec["fabricate"]
    if spec["kind"] not in LAYOUTS:
        raise ValueError(f"datasets.{spec['key']}.fabricate: only kinds {sorted(LAYOUTS)} can be fabricated")
    marker = root / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == options:
        return
    if root.exists() and not marker.is_file():
        raise ValueError(f"datasets.{spec['key']}.root: {root} exists and was not written by fabricate; "
                         "remove fabricate: to use it, or point root at a new folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    LAYOUTS[spec["kind"]]()[1](tmp, **options)
    (tmp / MARKER).write_text(json.dumps(options))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    log(f"datasets.{spec['key']}: wrote a fabricated {spec['kind']} layout at {root}")


def dataset(spec, checksums, out, log):
    if spec.get("fabricate"):
        fabricate(spec, log)
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
