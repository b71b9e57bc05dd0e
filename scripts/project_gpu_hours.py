"""GPU-hours of a config per figure, from measured benchmark rates (--benchmark CSV) or from
FLOPs at an assumed fraction of a device's bf16 peak (--assume DEVICE:FRACTION)."""

import argparse

import _path  # noqa: F401

from sparserobust.foundations import provenance
from sparserobust.performance import bench, projection
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--configfile", nargs="+", default=["config.yaml"], help="as given to snakemake")
src = p.add_mutually_exclusive_group(required=True)
src.add_argument("--benchmark", help="a CSV written by scripts/benchmark.py --out on the GPU you plan for")
src.add_argument("--assume", help=f"DEVICE:FRACTION, e.g. H100:0.4 (devices: {', '.join(bench.PEAK_BF16)})")
p.add_argument("--targets", nargs="+", default=None, help="default: every figure and table, and all")
p.add_argument("--out", default=None, help="CSV of the table")
args = p.parse_args()


def main():
    if args.benchmark:
        price, basis = projection.Pricer(measured=projection.measured_costs(args.benchmark)), args.benchmark
    else:
        name, _, fraction = args.assume.partition(":")
        if name not in bench.PEAK_BF16 or not fraction:
            raise ValueError(f"--assume {args.assume!r}: use DEVICE:FRACTION with DEVICE one of {list(bench.PEAK_BF16)}")
        rate = bench.PEAK_BF16[name] * float(fraction)
        price, basis = projection.Pricer(rate=rate), f"ASSUMED {float(fraction):.0%} of {name} bf16 peak (not measured)"
    table = projection.project(args.configfile, price, args.targets)
    print(f"config: {' '.join(args.configfile)}; rates: {basis}; GPU-hours of one GPU, every job built from nothing")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    if args.out:
        provenance.write_text(args.out, table.to_csv(index=False))


cli.main(main)
