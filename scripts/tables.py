"""Collected tables: runs per figure, double-win verdicts, Table A2, mask similarity, zero kernels."""

import argparse

import _path  # noqa: F401

from sparserobust.analysis import tables
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("kind", choices=sorted(tables.KINDS))
p.add_argument("--out", required=True)
p.add_argument("--verdicts", help="kernels: the double-win table that says which rounds are double-win tickets")
p.add_argument("--dataset", help="kernels: the dataset of those double-win verdicts")
p.add_argument("--data", default="full", help="kernels: full or fracF")
p.add_argument("--round", type=int, help="kernels: the common IMP round of every pre-training (analysis.fig7.round)")
p.add_argument("--pointwise", default="separate", choices=["separate", "exclude"],
               help="kernels: 1x1 convolutions reported as their own kind, or left out")
p.add_argument("inputs", nargs="+")
args = p.parse_args()
cli.main(lambda: tables.KINDS[args.kind](args))
