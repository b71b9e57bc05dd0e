"""Collected tables and the paper's definitions: matching subnetworks and double-win tickets."""

import json

import pandas as pd

PANELS = [("standard", "sa", "ST-SA"), ("adversarial", "sa", "AT-SA"), ("adversarial", "ra", "AT-RA")]
# Fig. A10's VOC instance segmentation: COCO-style AP@[.5:.95] of the masks and of the boxes (pycocotools)
SEGMENTATION_PANELS = [("segmentation", "mask_ap", "SEG-mask AP"), ("segmentation", "box_ap", "SEG-box AP")]
# AT-SA and AT-RA are both read from the adversarial run's best-RA checkpoint (test_sa, test_ra: the
# model the double-win definition uses); the best-SA checkpoint's test_sa_best_sa / test_ra_best_sa
# are collected beside them but plotted nowhere. Figures name the checkpoint with these titles.
PANEL_TITLES = {"AT-SA": "AT-SA (best-RA ckpt)"}
KEYS = ["init", "pruner", "round", "sparsity", "dataset", "data", "regime", "seed"]
GROUP = ["init", "pruner", "dataset", "data"]
ALL_PANELS = [label for _, _, label in PANELS]
AT_PANELS = ["AT-SA", "AT-RA"]  # the adversarial regime's two panels


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


def long_form(table, panels=PANELS):
    """One row per (run, panel): the metric of each panel (ST-SA, AT-SA, AT-RA) as 'value', of the
    checkpoint each run selected (test_sa / test_ra; best-RA for adversarial runs)."""
    parts = []
    for regime, metric, label in panels:
        col = f"test_{metric}"
        sub = table[table["regime"] == regime]
        if col not in sub or sub.empty:
            continue
        parts.append(sub.assign(panel=label, value=sub[col])[KEYS + ["panel", "value"]])
    return pd.concat(parts, ignore_index=True)


def matching(table, panels=PANELS):
    """Mean and std over seeds per point, with the dense model of the same pre-training as reference.

    A point is matching when its mean is no worse than the dense mean minus one dense std.
    """
    data = long_form(table, panels)
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
    """Per (init, pruner, dataset, data, round): matching in each panel; `panels`, the panels measured
    for the group (init, pruner, dataset, data); `double_win`, matching in all three, a verdict only
    where the group has all three (else NA); `at_matching`, in AT-SA and AT-RA, where it has both."""
    wide = match.pivot_table(index=GROUP + ["round", "sparsity"], columns="panel",
                             values="matching", aggfunc="all").reset_index()
    wide.columns.name = None
    labels = [p for p in ALL_PANELS if p in wide]
    measured = wide.groupby(GROUP)[labels].transform(lambda s: s.notna().any())
    wide["panels"] = [" ".join(p for p in labels if row[p]) for _, row in measured.iterrows()]
    for col, need in (("double_win", ALL_PANELS), ("at_matching", AT_PANELS)):
        known = wide["panels"].map(lambda s, need=need: set(need) <= set(s.split()))
        hit = wide.reindex(columns=need).eq(True).all(axis=1)
        wide[col] = hit.astype("boolean").where(known)
    return wide


def criterion(panels):
    """What the measured panels of a group can tell: (the panels a ticket must match in, the verdict).
    All three: a double-win ticket. AT-SA and AT-RA only (data-limited transfer runs the adversarial
    regime alone by default): matching under adversarial training. Else: the panels there are."""
    have = [p for p in ALL_PANELS if p in panels]
    if not have:
        raise ValueError(f"no panel of {ALL_PANELS} among {panels}")
    if have == ALL_PANELS:
        return have, "double-win"
    missing = [p for p in ALL_PANELS if p not in have]
    why = {("ST-SA",): "no ST runs", tuple(AT_PANELS): "no AT runs"}.get(tuple(missing),
                                                                      f"no {' / '.join(missing)}")
    name = {tuple(AT_PANELS): "AT", ("ST-SA",): "ST"}.get(tuple(have), " + ".join(have))
    return have, f"{name} matching ({why})"


def extreme(verdicts):
    """Per (init, pruner, dataset, data): the panels measured, the verdict they allow (criterion) and
    the highest sparsity at which it holds (extreme_round, extreme_sparsity; NaN when it holds at none;
    verdict then 'no ...'). double_win_rounds: the double-win rounds, empty without all three panels."""
    rows = []
    for key, grp in verdicts[verdicts["pruner"] != "dense"].groupby(GROUP):
        panels = grp["panels"].iloc[0]
        need, name = criterion(panels.split())
        wins = grp[grp[need].eq(True).all(axis=1)]
        best = wins.loc[wins["sparsity"].idxmax()] if not wins.empty else None
        rounds = " ".join(str(int(r)) for r in sorted(wins["round"]))
        rows.append(dict(zip(GROUP, key), panels=panels, verdict=name if best is not None else f"no {name}",
                         extreme_round=None if best is None else int(best["round"]),
                         extreme_sparsity=None if best is None else 100 * float(best["sparsity"]),
                         rounds_tested=int(grp["round"].nunique()), matching_rounds=rounds,
                         double_win_rounds=rounds if name == "double-win" else ""))
    return pd.DataFrame(rows)


def double_win_rounds(table, dataset, data, pruner="imp_st"):
    """{init: set of double-win rounds} of one (pruner, dataset, data) in extreme()'s table (as read
    back from its CSV, where double_win_rounds is a space-separated list, a number or empty)."""
    rows = table[(table["pruner"] == pruner) & (table["dataset"] == dataset) & (table["data"] == data)]
    out = {}
    for init, rounds in zip(rows["init"], rows["double_win_rounds"]):
        words = [] if pd.isna(rounds) else str(rounds).split()
        out[init] = {int(float(w)) for w in words}
    return out
