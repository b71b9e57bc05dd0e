"""Per rule: how much of each job's wall time went before its first step (process start, imports,
set-up), from Snakemake's benchmark files and the jobs' own timer lines in their logs."""

import argparse
import sys

import _path  # noqa: F401

from sparserobust.performance import startup

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("results", help="a config's results folder, e.g. results/demo")
p.add_argument("--limit", type=float, default=0.25,
               help="list the training jobs above this share and exit 1 if there are any (default 0.25)")
args = p.parse_args()
records = startup.jobs(args.results)
if not records:
    sys.exit(f"error: no job under {args.results}/benchmarks has a timing line in its log under {args.results}/logs; "
             "run the workflow first")
print(f"{'rule (benchmark folder)':26s} {'jobs':>5s} {'train':>5s} {'wall s':>8s} {'mean s':>7s} {'before s':>8s} "
      f"{'share':>6s} {'max':>6s}")
for r in startup.summary(records):
    print(f"{r['group']:26s} {r['jobs']:5d} {r['training']:5d} {r['wall_s_sum']:8.1f} {r['wall_s_mean']:7.2f} "
          f"{r['before_s_mean']:8.2f} {r['share_mean']:6.1%} {r['share_max']:6.1%}")
total = sum(r["wall_s"] for r in records)
before = sum(r["before_s"] for r in records)
print(f"{'all':26s} {len(records):5d} {sum(r['trains'] for r in records):5d} {total:8.1f} "
      f"{total / len(records):7.2f} {before / len(records):8.2f} {before / total:6.1%}")
over = startup.worst(records, args.limit)
print(f"training jobs above {args.limit:.0%} before their first step: {len(over)}")
for r in sorted(over, key=lambda r: -r["before_s"] / r["wall_s"])[:20]:
    print(f"  {r['job']}: {r['before_s']:.2f} of {r['wall_s']:.2f} s ({r['before_s'] / r['wall_s']:.0%})")
sys.exit(1 if over else 0)
