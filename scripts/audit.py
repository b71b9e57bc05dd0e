"""The audit of a finished run's tables (sparserobust.analysis.audit): writes its checks as CSV when all
pass, else lists the failures and exits 1."""

import argparse
import json
from pathlib import Path

import _path  # noqa: F401

from sparserobust.analysis import audit
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--spec", required=True, help='JSON: {"results", "learning", "chance": {dataset: percent}, "exact_regrowth"}')
p.add_argument("--out", required=True)
p.add_argument("tables", nargs="+", help="collected tables, <results>/tables/NAME.csv")
args = p.parse_args()


def main():
    import pandas as pd

    spec = json.loads(args.spec)
    tables = {Path(t).stem: pd.read_csv(t) for t in args.tables}
    table = audit.run(tables, spec["results"], spec["learning"], spec["chance"], spec["exact_regrowth"])
    audit.write(table, args.out)
    print(f"audit: {len(table)} checks passed", flush=True)


cli.main(main, device=False)
