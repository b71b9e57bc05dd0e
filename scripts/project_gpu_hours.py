"""GPU-hours of a config per figure, from benchmark rates measured on a GPU (--measured CSV, or
the GPU benchmark CSVs under results/benchmark) or, without them, as a range between two rates
anchored in published ResNet-50 training throughputs (optimistic: MLPerf on H100; likely:
PyTorch AMP), applied to every job through its FLOP count."""

import argparse

import _path  # noqa: F401

from sparserobust.foundations import provenance
from sparserobust.performance import projection, rates
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--configfile", nargs="+", default=["config.yaml"], help="as given to snakemake")
src = p.add_mutually_exclusive_group()
src.add_argument("--measured", "--benchmark", nargs="+", default=None,
                 help="CSVs written by scripts/benchmark.py --out on the GPU you plan for "
                 f"(default: those with a GPU row in {rates.BENCHMARKS.relative_to(rates.ROOT)})")
src.add_argument("--anchored", action="store_true", help="the anchored range even where a GPU benchmark exists")
p.add_argument("--targets", nargs="+", default=None, help="default: every figure and table, and all")
p.add_argument("--out", default=None, help="CSV of the table")
args = p.parse_args()


def main():
    prices, basis = rates.rates(args.measured, anchored=args.anchored)
    table = projection.project(args.configfile, prices, args.targets)
    print(f"config: {' '.join(args.configfile)}; GPU-hours of one GPU, every job built from nothing")
    print("\n".join(basis))
    shown = table.rename(columns=lambda c: c.replace("largest_job_gpu_hours", "largest").replace("gpu_hours", "hours"))
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print("hours: GPU-hours of the target; largest: GPU-hours of its largest job")
    if args.out:
        provenance.write_text(args.out, table.to_csv(index=False))


cli.main(main)
