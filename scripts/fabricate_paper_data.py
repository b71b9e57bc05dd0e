"""Fabricate small, deterministic stand-ins for the papers' datasets and pre-trained weights in the
exact published on-disk layouts (sparserobust.data.fabricate, sparserobust.data.fabricate_lists,
sparserobust.data.fabricate_voc, sparserobust.models.fabricate): OUT/imagenet, OUT/torchvision
(CIFAR-10, CIFAR-100, SVHN), OUT/tiny-imagenet-200, OUT/CUB_200_2011, OUT/visda2017,
OUT/VOCdevkit/VOC2012 and OUT/weights with SHA256SUMS. Does nothing when OUT/.complete records the
same options; otherwise builds in a temporary sibling folder and renames it into place."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _path  # noqa: F401

from sparserobust.data import fabricate, fabricate_lists, fabricate_voc
from sparserobust.models import fabricate as fabricate_weights

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--out", required=True, help="folder to create")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--imagenet-classes", type=int, default=1000)
p.add_argument("--imagenet-train", type=int, default=2, help="training images per class")
p.add_argument("--imagenet-val", type=int, default=1, help="validation images per class")
p.add_argument("--imagenet-size", type=int, nargs=2, default=[80, 64], metavar=("WIDTH", "HEIGHT"))
p.add_argument("--cifar-train", type=int, default=120, help="CIFAR-10 and CIFAR-100 training images")
p.add_argument("--cifar-test", type=int, default=40)
p.add_argument("--svhn-train", type=int, default=120)
p.add_argument("--svhn-test", type=int, default=40)
p.add_argument("--tiny-classes", type=int, default=200)
p.add_argument("--tiny-train", type=int, default=2, help="training images per class")
p.add_argument("--tiny-val", type=int, default=200, help="validation images (and as many test images)")
p.add_argument("--cub-train", type=int, default=1, help="CUB-200-2011 training images per class (200 classes)")
p.add_argument("--cub-test", type=int, default=1)
p.add_argument("--visda-train", type=int, default=2, help="VisDA-2017 synthetic images per class (12 classes)")
p.add_argument("--visda-val", type=int, default=2, help="VisDA-2017 real (validation) images per class")
p.add_argument("--voc-train", type=int, default=4, help="VOC2012 segmentation training images")
p.add_argument("--voc-val", type=int, default=2)
p.add_argument("--weights", action=argparse.BooleanOptionalAction, default=True,
               help="also write the four ResNet-50 checkpoints (about 700 MB)")
args = p.parse_args()
options = {k: v for k, v in vars(args).items() if k != "out"}
out = Path(args.out).resolve()
marker = out / ".complete"
if marker.is_file() and json.loads(marker.read_text()).get("options") == options:
    print(f"{out}: already complete with these options; nothing to do")
    sys.exit(0)
if out.exists() and not marker.is_file() and any(out.iterdir()):
    sys.exit(f"error: {out} exists, is not empty and was not written by this script (no .complete); "
             "choose another --out or remove it")

start = time.time()
out.parent.mkdir(parents=True, exist_ok=True)
tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
try:
    s = args.seed
    fabricate.imagenet(tmp / "imagenet", args.imagenet_classes, args.imagenet_train, args.imagenet_val, s,
                       tuple(args.imagenet_size))
    for name in ("cifar10", "cifar100"):
        fabricate.cifar(tmp / "torchvision", name, args.cifar_train, args.cifar_test, s)
    fabricate.svhn(tmp / "torchvision", args.svhn_train, args.svhn_test, s)
    fabricate.tinyimagenet(tmp / "tiny-imagenet-200", args.tiny_classes, args.tiny_train, args.tiny_val, s)
    fabricate_lists.write_cub(tmp / "CUB_200_2011", 200, args.cub_train, args.cub_test, (500, 375), s)
    fabricate_lists.write_visda(tmp / "visda2017", 12, args.visda_train, args.visda_val, (384, 288), s)
    fabricate_voc.write(tmp / "VOCdevkit" / "VOC2012", 21, args.voc_train, args.voc_val, (500, 375), s)
    written = fabricate_weights.weights(tmp / "weights", s) if args.weights else {}
    if written:
        sums_text = "".join(f"{sha}  {path.name}\n" for path, sha in written.values())
        (tmp / "weights" / "SHA256SUMS").write_text(sums_text)
    sums = {name: [str(path.relative_to(tmp)), sha] for name, (path, sha) in written.items()}
    (tmp / ".complete").write_text(json.dumps({"options": options, "weights": sums}, indent=1) + "\n")
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old)
except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise

files = [f for f in out.rglob("*") if f.is_file()]
size = sum(f.stat().st_size for f in files)
for sub in sorted(d for d in out.iterdir() if d.is_dir()):
    n = sum(1 for f in sub.rglob("*") if f.is_file())
    print(f"{sub}: {n} files, {sum(f.stat().st_size for f in sub.rglob('*') if f.is_file()) / 1e6:.1f} MB")
for name, (path, sha) in sums.items():
    print(f"  {name}: {Path(path).name} sha256 {sha}")
print(f"wrote {len(files)} files, {size / 1e6:.1f} MB, to {out} in {time.time() - start:.1f} s")
