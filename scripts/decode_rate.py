"""Images/s per CPU core of the ImageNet folders' CPU path (decode: cpu: PIL decode + RandomResizedCrop 224
+ flip, as one training worker does it) and the worker cores one GPU needs at --gpu-rate images/s.

Times JPEGs fabricated at ImageNet's typical sizes (500x375, 500x333, 400x350, ...) for each --grain
(more grain: more bytes per pixel, slower decoding; ImageNet's training JPEGs average about 110 KB), or
the files of an ImageNet-style --folder (root/train/<class>/*)."""

import argparse
import tempfile
from pathlib import Path

import _path  # noqa: F401

from sparserobust.performance import decoding

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--images", type=int, default=200, help="fabricated JPEGs per grain level (default 200)")
p.add_argument("--grain", type=float, nargs="+", default=[8.0, 24.0, 48.0], help="grain std of the fabricated JPEGs")
p.add_argument("--folder", default=None, help="time this ImageNet-style root's train/ files instead")
p.add_argument("--gpu-rate", type=float, nargs="+", default=[2470.0],
               help="images/s one GPU consumes (default 2470: ResNet-50 PyTorch AMP training on one A100, "
               "NVIDIA DeepLearningExamples; see BENCHMARKS.md)")
p.add_argument("--workers", type=int, default=1, help="also time the DataLoader with this many workers (0: skip)")
p.add_argument("--repeats", type=int, default=3, help="passes per measurement; the median is printed")
args = p.parse_args()


def report(name, root):
    r = decoding.per_core(root, args.repeats)
    rates = {"per core": r["decode_crop"]}
    line = (f"{name:10s} {r['files']:5d} {r['mean_kb']:7.1f} {r['bytes_per_pixel']:5.2f} {r['decode_crop']:11.0f} "
            f"{r['read_bytes']:11.0f}")
    if args.workers:
        rates[f"loader {args.workers}w"] = decoding.loader_rate(root, args.workers) / args.workers
        line += f" {rates[f'loader {args.workers}w']:11.0f}"
    cores = [f"{g:,.0f}: " + " / ".join(str(decoding.cores_per_gpu(g, v)) for v in rates.values())
             for g in args.gpu_rate]
    print(f"{line}   {';  '.join(cores)}", flush=True)


loader = f" {'loader':>11s}" if args.workers else ""
basis = " / ".join(["decode+crop", f"loader ({args.workers} worker)"][:1 + bool(args.workers)])
print(f"{'files':10s} {'n':>5s} {'mean KB':>7s} {'B/px':>5s} {'decode+crop':>11s} {'read only':>11s}{loader}   "
      f"worker cores per GPU at GPU img/s, from {basis}")
print(f"{'':10s} {'':5s} {'':7s} {'':5s} {'img/s/core':>11s} {'files/s/core':>11s}"
      + (f" {'img/s/worker':>11s}" if args.workers else ""))
if args.folder:
    report(Path(args.folder).name, args.folder)
else:
    for grain in args.grain:
        with tempfile.TemporaryDirectory() as tmp:
            decoding.fabricate(tmp, args.images, grain=grain)
            report(f"grain {grain:g}", tmp)
