"""Collected tables: runs per figure, double-win verdicts, Table A2, mask similarity, zero kernels."""

import argparse

import _path  # noqa: F401

from sparserobust.analysis import tables
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("kind", choices=sorted(tables.KINDS))
p.add_argument("--out", required=True)
p.add_argument("--verdicts", help="kernels: the double-win table that names the extreme sparsity")
p.add_argument("--dataset", help="kernels: the dataset whose extreme sparsity is used")
p.add_argument("--data", default="full", help="kernels: full or fracF")
p.add_argument("inputs", nargs="+")
args = p.parse_args()
cli.main(lambda: tables.KINDS[args.kind](args))
