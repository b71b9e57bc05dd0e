"""Collect transfer metrics files into one CSV table (one row per run)."""

import argparse

import _path  # noqa: F401

from sparserobust import cli, metrics

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--out", required=True)
p.add_argument("inputs", nargs="+")
args = p.parse_args()
cli.main(lambda: metrics.collect(args.inputs, args.out))
