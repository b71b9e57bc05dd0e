"""Peak memory per rule from Snakemake's benchmark files (max_rss, MB, of the job's process tree):
prints a table and writes it as CSV. Usage: python scripts/peak_memory.py RESULTS [--out CSV]."""

import argparse

import _path  # noqa: F401

from sparserobust.foundations import provenance
from sparserobust.performance import reports

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("results", help="a config's results folder (its benchmarks/ holds one TSV per job)")
p.add_argument("--out", default=None, help="CSV to write (default: RESULTS/tables/peak_memory.csv)")
args = p.parse_args()
table = reports.peak_memory(args.results)
out = args.out or f"{args.results}/tables/peak_memory.csv"
provenance.write_text(out, table.to_csv(index=False))
print(table.to_string(index=False))
print(f"written: {out}")
