"""Collected tables and the paper's definitions: matching subnetworks and double-win tickets."""

import io
import json

import pandas as pd

from . import provenance

PANELS = [("standard", "sa", "ST-SA"), ("adversarial", "sa", "AT-SA"), ("adversarial", "ra", "AT-RA")]
KEYS = ["init", "pruner", "round", "sparsity", "dataset", "regime", "seed"]


def load_runs(paths):
    rows = []
    for path in paths:
        with open(path) as handle:
            rec = json.load(handle)
        row = {k: v for k, v in rec.items() if k not in ("history", "provenance")}
        row["code_version"] = rec.get("provenance", {}).get("code_version")
        row["file"] = str(path)
        rows.append(row)
    if not rows:
        raise ValueError("no metrics files to collect")
    return pd.DataFrame(rows).sort_values(KEYS).reset_index(drop=True)


def collect(paths, out):
    table = load_runs(paths)
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    provenance.write_text(out, buf.getvalue())
    return table


def long_form(table):
    """One row per (run, panel): the metric of each panel (ST-SA, AT-SA, AT-RA) as 'value'."""
    parts = []
    for regime, metric, label in PANELS:
        col = f"test_{metric}"
        sub = table[table["regime"] == regime]
        if col not in sub or sub.empty:
            continue
        parts.append(sub.assign(panel=label, value=sub[col])[KEYS + ["panel", "value"]])
    return pd.concat(parts, ignore_index=True)


def matching(table):
    """Mean and std over seeds per point, with the dense model of the same pre-training as reference.

    A point is matching when its mean is no worse than the dense mean minus one dense std.
    """
    data = long_form(table)
    stats = (data.groupby(["init", "pruner", "round", "dataset", "panel"])
             .agg(sparsity=("sparsity", "mean"), mean=("value", "mean"), std=("value", "std"),
                  seeds=("seed", "nunique")).reset_index())
    stats["std"] = stats["std"].fillna(0.0)
    dense = stats[stats["pruner"] == "dense"][["init", "dataset", "panel", "mean", "std"]]
    dense = dense.rename(columns={"mean": "dense_mean", "std": "dense_std"})
    out = stats.merge(dense, on=["init", "dataset", "panel"], how="left")
    out["matching"] = out["mean"] >= out["dense_mean"] - out["dense_std"]
    return out


def double_win(match):
    """Per (init, pruner, dataset): is each sparsity matching in all three panels; the extreme one."""
    wide = match.pivot_table(index=["init", "pruner", "dataset", "round", "sparsity"], columns="panel",
                             values="matching", aggfunc="all").reset_index()
    panels = [p for _, _, p in PANELS if p in wide]
    wide["double_win"] = wide[panels].all(axis=1) & (len(panels) == len(PANELS))
    return wide
