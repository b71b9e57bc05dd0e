"""Benchmark training steps (standard and PGD-10) of the engine against a plain reference loop;
prints a table with the device it ran on and writes it as CSV."""

import argparse

import pandas as pd
import torch

import _path  # noqa: F401

from sparserobust.foundations import provenance
from sparserobust.performance import bench
from sparserobust.pipeline import cli
from sparserobust.training import engine

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--models", nargs="+", default=None, choices=sorted(bench.CASES),
               help="default: all on CUDA; demo and preact_resnet18 on CPU (ResNet-50 at 224 px is hours there)")
p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 20 CUDA, 5 CPU)")
p.add_argument("--batch", type=int, nargs="+", default=None, help="batch per model, in --models order")
p.add_argument("--threads", type=int, default=torch.get_num_threads())
p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="the engine's (config engine.precision)")
p.add_argument("--repeats", type=int, default=3, help="engine and reference alternate this often; medians")
p.add_argument("--reference-attack", default="backward", choices=["backward", "input"],
               help="the reference's PGD: plain loss.backward() (weight grads too) or input-only gradients")
p.add_argument("--compile", action="store_true", help="torch.compile the engine's model (config engine.compile)")
p.add_argument("--out", default=None, help="CSV file of the table")
args = p.parse_args()


def main():
    torch.set_num_threads(args.threads)
    device = engine.pick_device("auto")
    gpu = device.type == "cuda"
    names = args.models or (list(bench.CASES) if gpu else ["demo", "preact_resnet18"])
    default_batch = {"demo": 128, "preact_resnet18": 128 if gpu else 32, "wrn34_10": 128 if gpu else 8,
                     "vgg16_bn": 128 if gpu else 32, "resnet50": 128 if gpu else 4}
    if args.batch and len(args.batch) != len(names):
        raise ValueError(f"--batch has {len(args.batch)} values for {len(names)} models ({' '.join(names)})")
    batches = dict(zip(names, args.batch, strict=True)) if args.batch else default_batch
    steps = args.steps or (20 if gpu else 5)
    rows = [bench.measure(name, batches[name], steps, adv, device, precision=args.precision, compile=args.compile,
                          repeats=args.repeats, reference_attack=args.reference_attack)
            for name in names for adv in (False, True)]
    table = pd.DataFrame(rows).assign(torch=torch.__version__)
    print(f"device: {bench.device_name(device)}; torch {torch.__version__}; {steps} timed steps each, "
          f"median of {args.repeats}; reference attack: {args.reference_attack}")
    print(table.drop(columns=["device", "torch"]).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out:
        provenance.write_text(args.out, table.to_csv(index=False))


cli.main(main)
