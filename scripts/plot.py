"""Render one figure or table (PDF) from its collected CSV."""

import argparse

import _path  # noqa: F401

from sparserobust.analysis import plotting
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("kind", choices=sorted(plotting.KINDS))
p.add_argument("--table", required=True)
p.add_argument("--out", required=True)
p.add_argument("--title", default="")
args = p.parse_args()
cli.main(lambda: plotting.KINDS[args.kind](args.table, args.out, args.title))
