"""Measure the memory of one training pass of a network at two or more batch sizes (CPU, fp32) and
project it to the papers' per-GPU batches. Usage:
python scripts/step_memory.py --arch resnet50 --size 224 --batches 8 32 --project 128 256"""

import argparse

import _path  # noqa: F401

from sparserobust.performance import memory

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--arch", default="resnet50")
p.add_argument("--classes", type=int, default=1000)
p.add_argument("--size", type=int, default=224)
p.add_argument("--batches", type=int, nargs="+", default=[8, 32])
p.add_argument("--project", type=int, nargs="*", default=[128, 256])
args = p.parse_args()
rows, slope = memory.per_image(args.arch, args.classes, args.size, args.batches)
for r in rows:
    print(f"{args.arch} {args.size}px batch {r['batch']:4d}: peak {r['peak_mb']:8.0f} MB "
          f"(network built: {r['base_mb']:.0f} MB)")
print(f"activation memory of a training pass: {slope:.1f} MB per image (fp32)")
fixed = rows[0]["peak_mb"] - slope * rows[0]["batch"]
for b in args.project:
    print(f"projected peak at batch {b}: {(fixed + slope * b) / 1024:.1f} GB (fp32; bf16 autocast about half "
          "the activations)")
