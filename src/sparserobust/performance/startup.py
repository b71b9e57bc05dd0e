"""Where a rule's wall time goes: before the job's first step (process start, imports, set-up) and
after it. Snakemake's benchmark file (`<results>/benchmarks/X.tsv`) gives each job's wall time and
the job's log (`<results>/logs/X.log`) its own timer line (foundations.timing): the process's age
at its first training step, or, for a job that does not train, when its work began."""

import statistics
from pathlib import Path

from ..foundations import timing


def jobs(results):
    """One record per finished job that has both a benchmark file and a timing line in its log."""
    root = Path(results)
    out = []
    for bench in sorted((root / "benchmarks").rglob("*.tsv")):
        rel = bench.relative_to(root / "benchmarks")
        log = (root / "logs" / rel).with_suffix(".log")
        rows = bench.read_text().splitlines()
        marks = timing.parse(log.read_text(errors="replace")) if log.exists() else {}
        if len(rows) < 2 or "main" not in marks:
            continue
        wall = float(dict(zip(rows[0].split("\t"), rows[1].split("\t"), strict=False))["s"])
        trains = "first_step" in marks
        out.append({"group": group_of(rel), "job": str(rel.with_suffix("")), "wall_s": wall, "trains": trains,
                    "before_s": min(wall, marks["first_step" if trains else "main"])})
    return out


def group_of(rel):
    """The benchmark's folder (the rule's name, or the folder rules share: tables, plot, swt); transfer
    jobs split by regime, whose costs differ most."""
    parts = rel.parts
    if parts[0] == "transfer" and len(parts) >= 3:
        return f"transfer/{parts[-2]}"
    return parts[0]


def summary(records):
    """Rows per group: jobs, of which training, mean wall, mean time before the first step, mean and
    largest share of the wall time spent before it."""
    groups = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r)
    rows = []
    for name, rs in sorted(groups.items()):
        shares = [r["before_s"] / r["wall_s"] for r in rs if r["wall_s"] > 0]
        rows.append({"group": name, "jobs": len(rs), "training": sum(r["trains"] for r in rs),
                     "wall_s_sum": sum(r["wall_s"] for r in rs), "wall_s_mean": statistics.mean(r["wall_s"] for r in rs),
                     "before_s_mean": statistics.mean(r["before_s"] for r in rs),
                     "share_mean": statistics.mean(shares) if shares else 0.0, "share_max": max(shares, default=0.0)})
    return rows


def worst(records, limit):
    """Training jobs that spent more than `limit` of their wall time before their first step."""
    return [r for r in records if r["trains"] and r["wall_s"] > 0 and r["before_s"] / r["wall_s"] > limit]
