"""Summaries of a finished run read from Snakemake's own records (benchmark files)."""

from pathlib import Path


def peak_memory(results):
    """Per rule: jobs, and the median and largest peak resident memory (max_rss, MB) over its
    jobs, from <results>/benchmarks/<rule>/**/*.tsv (psutil's RSS of the job's process tree)."""
    import pandas as pd

    root = Path(results) / "benchmarks"
    rows = []
    for tsv in sorted(root.rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        if "max_rss" in frame and len(frame):
            rows.append({"rule": tsv.relative_to(root).parts[0], "job": str(tsv.relative_to(root)),
                         "max_rss_mb": float(pd.to_numeric(frame["max_rss"], errors="coerce").max())})
    if not rows:
        raise FileNotFoundError(f"{root}: no benchmark files; run the workflow first")
    jobs = pd.DataFrame(rows)
    by_rule = jobs.groupby("rule")
    table = by_rule.agg(jobs=("job", "size"), median_max_rss_mb=("max_rss_mb", "median"),
                        max_rss_mb=("max_rss_mb", "max"))
    table["largest"] = jobs.loc[by_rule["max_rss_mb"].idxmax(), "job"].values
    return table.sort_values("max_rss_mb", ascending=False).reset_index().round(1)
