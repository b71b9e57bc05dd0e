"""Collected tables and the paper's definitions: matching subnetworks and double-win tickets."""

import json

import pandas as pd

PANELS = [("standard", "sa", "ST-SA"), ("adversarial", "sa", "AT-SA"), ("adversarial", "ra", "AT-RA")]
KEYS = ["init", "pruner", "round", "sparsity", "dataset", "data", "regime", "seed"]
GROUP = ["init", "pruner", "dataset", "data"]


def load_runs(paths):
    rows = []
    for path in paths:
        with open(path) as handle:
            rec = json.load(handle)
        row = {k: v for k, v in rec.items() if k not in ("history", "provenance")}
        row["code_version"] = rec.get("provenance", {}).get("code_version")
        row["file"] = str(path)
        row.setdefault("data", "full")
        rows.append(row)
    if not rows:
        raise ValueError("no metrics files to collect")
    return pd.DataFrame(rows).sort_values(KEYS).reset_index(drop=True)


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
    stats = (data.groupby(["init", "pruner", "round", "dataset", "data", "panel"])
             .agg(sparsity=("sparsity", "mean"), mean=("value", "mean"), std=("value", "std"),
                  seeds=("seed", "nunique")).reset_index())
    stats["std"] = stats["std"].fillna(0.0)
    dense = stats[stats["pruner"] == "dense"][["init", "dataset", "data", "panel", "mean", "std"]]
    dense = dense.rename(columns={"mean": "dense_mean", "std": "dense_std"})
    out = stats.merge(dense, on=["init", "dataset", "data", "panel"], how="left")
    out["matching"] = out["mean"] >= out["dense_mean"] - out["dense_std"]
    return out


def double_win(match):
    """Per (init, pruner, dataset, data, round): matching in each panel, and in all three."""
    wide = match.pivot_table(index=GROUP + ["round", "sparsity"], columns="panel",
                             values="matching", aggfunc="all").reset_index()
    wide.columns.name = None
    panels = [p for _, _, p in PANELS if p in wide]
    wide["double_win"] = wide[panels].fillna(False).astype(bool).all(axis=1) & (len(panels) == len(PANELS))
    return wide


def extreme(verdicts):
    """The highest double-win sparsity per (init, pruner, dataset, data); NaN when there is none."""
    rows = []
    for key, grp in verdicts[verdicts["pruner"] != "dense"].groupby(GROUP):
        wins = grp[grp["double_win"]]
        best = wins.loc[wins["sparsity"].idxmax()] if not wins.empty else None
        rows.append(dict(zip(GROUP, key), extreme_round=None if best is None else int(best["round"]),
                         extreme_sparsity=None if best is None else 100 * float(best["sparsity"]),
                         rounds_tested=int(grp["round"].nunique()),
                         double_win_rounds=" ".join(str(int(r)) for r in sorted(wins["round"]))))
    return pd.DataFrame(rows)
