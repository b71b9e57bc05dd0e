"""Figure 3: SA / RA vs sparsity per dataset, a curve per pre-training plus random pruning."""

import argparse

import _path  # noqa: F401

from sparserobust import cli, plotting

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--table", required=True)
p.add_argument("--out", required=True)
p.add_argument("--title", default="")
args = p.parse_args()
cli.main(lambda: plotting.fig3(args.table, args.out, args.title))
