"""Data-limited transfer (Double-Win Fig. 5) is adversarial by default, as in the authors' code
(VITA-Group/Double-Win-LTH: only main_adv_eval.py and main_adv_eval_svhn.py take --data_number);
`transfer.data_limited_regimes` adds standard training. The double-win table then says which panels
were run per group and which verdict they allow."""

import re
from argparse import Namespace

import pandas as pd
import pytest
import yaml

from sparserobust.analysis import metrics, plots_doublewin, tables
from sparserobust.pipeline import config

from conftest import ROOT, snakemake

TRANSFER = re.compile(r"transfer/(\w+)/(\w+)/round(\d+)/(\w+)/(full|frac[0-9.e-]+)/(\w+)/seed(\d+)\.json")


def transfer_jobs(*args):
    """{(init, pruner, round, dataset, data, regime, seed)} of every transfer job a dry run lists."""
    out = snakemake("-n", "--cores", "1", *args, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return {m.groups() for m in TRANSFER.finditer(out.stdout)}


def test_paper_fig5_runs_adversarial_only_by_default_and_standard_when_configured(tmp_path):
    paper = config.load(ROOT / "config.yaml")
    assert paper["transfer"]["data_limited_regimes"] == ["adversarial"]
    jobs = transfer_jobs("--", "results/paper/tables/fig5.csv")
    # 3 pre-trainings x (dense + 19 IMP rounds) x 3 datasets x 2 fractions x 3 seeds, adversarial only
    assert len(jobs) == 3 * 20 * 3 * 2 * 3 == 1080
    assert {j[5] for j in jobs} == {"adversarial"} and {j[4] for j in jobs} == {"frac0.1", "frac0.01"}
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump({"transfer": {"data_limited_regimes": ["standard", "adversarial"]}}))
    jobs = transfer_jobs("--configfile", "config.yaml", str(both), "--", "results/paper/tables/fig5.csv")
    assert len(jobs) == 2 * 1080 and {j[5] for j in jobs} == {"standard", "adversarial"}
    assert {j[:5] + (j[6],) for j in jobs if j[5] == "standard"} == {j[:5] + (j[6],) for j in jobs
                                                                   if j[5] == "adversarial"}


def test_demo_full_data_keeps_both_regimes_and_data_limited_drops_standard():
    demo = config.load(ROOT / "config" / "demo.yaml")
    assert config.data_limited_regimes(demo) == ["adversarial"]
    jobs = transfer_jobs("--configfile=config/demo.yaml", "--", "results/demo/tables/fig3.csv",
                         "results/demo/tables/fig5.csv")
    full = {j for j in jobs if j[4] == "full"}
    limited = jobs - full
    assert {j[5] for j in full} == {"standard", "adversarial"}
    assert {j[4] for j in limited} == {"frac0.2"} and {j[5] for j in limited} == {"adversarial"}
    # 3 pre-trainings x (dense + IMP rounds 2 and 3) x demo_cifar10 x 1 fraction x 1 seed
    assert len(limited) == 3 * 3 * 1 * 1 * 1


def _demo():
    return yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


def test_data_limited_regimes_default_order_and_errors():
    cfg = _demo()
    cfg["transfer"].pop("data_limited_regimes", None)
    assert config.data_limited_regimes(config.validate(cfg)) == ["adversarial"]
    cfg["transfer"]["data_limited_regimes"] = ["adversarial", "standard"]
    assert config.data_limited_regimes(config.validate(cfg)) == ["standard", "adversarial"]
    for bad, key in ((["adversarial", "fgsm"], "transfer.data_limited_regimes[1]"),
                     ([], "transfer.data_limited_regimes")):
        cfg["transfer"]["data_limited_regimes"] = bad
        with pytest.raises(config.ConfigError, match=re.escape(key)):
            config.validate(cfg)
        with pytest.raises(config.ConfigError, match=re.escape(key)):
            config.data_limited_regimes(cfg)  # the same error without the schema
    cfg["transfer"]["data_limited_regimes"] = ["adversarial"]
    cfg["analysis"]["fig7"] = {**cfg["analysis"].get("fig7", {}), "data": "frac0.2"}
    with pytest.raises(config.ConfigError, match="analysis.fig7.data.*data_limited_regimes"):
        config.validate(cfg)
    cfg["transfer"]["data_limited_regimes"] = ["standard", "adversarial"]
    config.validate(cfg)


# (regime, metric) -> value per round 0 (dense) .. 3; seeds add -0.5 / +0.5, so the dense std is 0.71
FULL = {("standard", "sa"): [90, 90, 90, 80], ("adversarial", "sa"): [80, 80, 80, 80],
        ("adversarial", "ra"): [40, 40, 40, 40]}
RA_FAILS = {("adversarial", "sa"): [80, 80, 80, 80], ("adversarial", "ra"): [40, 30, 30, 30]}
ST_ONLY = {("standard", "sa"): [90, 90, 80, 80]}


def _rows(data, values, init="adversarial"):
    rows = []
    for seed, noise in enumerate((-0.5, 0.5)):
        for regime in ("standard", "adversarial"):
            if (regime, "sa") not in values:
                continue
            for k in range(4):
                row = {"init": init, "pruner": "dense" if k == 0 else "imp_st", "round": k,
                       "sparsity": 1 - 0.8 ** k, "dataset": "cifar10", "data": data, "regime": regime,
                       "seed": seed, "file": f"{data}/{regime}/{k}/{seed}", "test_sa": values[(regime, "sa")][k] + noise}
                if regime == "adversarial":
                    row["test_ra"] = values[(regime, "ra")][k] + noise
                rows.append(row)
    return rows


def _fabricated():
    """Full data with all three panels; 10 % adversarial only; 1 % adversarial only with RA never
    matching; 5 % standard only."""
    return pd.DataFrame(_rows("full", FULL) + _rows("frac0.1", {k: v for k, v in FULL.items() if k[0] != "standard"})
                        + _rows("frac0.01", RA_FAILS) + _rows("frac0.05", ST_ONLY))


def test_double_win_is_a_verdict_only_with_all_three_panels():
    verdicts = metrics.double_win(metrics.matching(_fabricated()))
    imp = verdicts[verdicts["pruner"] == "imp_st"].set_index(["data", "round"])
    assert set(imp.loc["full", "panels"]) == {"ST-SA AT-SA AT-RA"}
    assert set(imp.loc["frac0.1", "panels"]) == {"AT-SA AT-RA"}
    assert set(imp.loc["frac0.05", "panels"]) == {"ST-SA"}
    assert imp.loc["full", "double_win"].tolist() == [True, True, False]  # ST-SA fails at round 3
    assert imp.loc["full", "at_matching"].tolist() == [True, True, True]
    assert imp.loc["frac0.1", "double_win"].isna().all() and imp.loc["frac0.1", "at_matching"].tolist() == [True] * 3
    assert imp.loc["frac0.01", "at_matching"].tolist() == [False] * 3
    assert imp.loc["frac0.05", "double_win"].isna().all() and imp.loc["frac0.05", "at_matching"].isna().all()


def test_doublewin_table_reports_panels_verdict_and_extreme_sparsity(tmp_path, monkeypatch):
    runs = tmp_path / "runs.csv"
    _fabricated().to_csv(runs, index=False)
    out = tmp_path / "table_doublewin.csv"
    tables.doublewin(Namespace(inputs=[runs], out=out))
    table = pd.read_csv(out).set_index("data")
    assert table.loc["full", "panels"] == "ST-SA AT-SA AT-RA" and table.loc["full", "verdict"] == "double-win"
    assert table.loc["full", "extreme_round"] == 2 and abs(table.loc["full", "extreme_sparsity"] - 36.0) < 1e-6
    assert str(table.loc["full", "double_win_rounds"]) == "1 2" and table.loc["full", "published_sparsity"] == 91.41
    assert table.loc["frac0.1", "panels"] == "AT-SA AT-RA"
    assert table.loc["frac0.1", "verdict"] == "AT matching (no ST runs)"
    assert table.loc["frac0.1", "extreme_round"] == 3 and abs(table.loc["frac0.1", "extreme_sparsity"] - 48.8) < 1e-6
    assert pd.isna(table.loc["frac0.1", "double_win_rounds"]) and table.loc["frac0.1", "matching_rounds"] == "1 2 3"
    assert table.loc["frac0.01", "verdict"] == "no AT matching (no ST runs)"
    assert pd.isna(table.loc["frac0.01", "extreme_sparsity"])
    assert table.loc["frac0.05", "verdict"] == "ST matching (no AT runs)" and table.loc["frac0.05", "extreme_round"] == 1
    assert metrics.double_win_rounds(pd.read_csv(out), "cifar10", "frac0.1") == {"adversarial": set()}
    assert metrics.double_win_rounds(pd.read_csv(out), "cifar10", "full") == {"adversarial": {1, 2}}

    shown = {}
    monkeypatch.setattr(plots_doublewin.style, "render", lambda t, path, title, **kw: shown.update(t=t, title=title))
    plots_doublewin.table_doublewin(out, tmp_path / "t.pdf")
    rendered = shown["t"].set_index("data")
    assert rendered.loc["frac0.1", "verdict"] == "AT matching (no ST runs)"
    assert rendered.loc["frac0.1", "panels run"] == "AT-SA AT-RA"
    assert rendered.loc["frac0.1", "extreme sparsity (%)"] == "48.80"
    assert rendered.loc["frac0.01", "extreme sparsity (%)"] == "none"
    assert rendered.loc["full", "verdict"] == "double-win" and "AT matching" in shown["title"]


def test_fig5_plot_without_standard_rows(tmp_path, monkeypatch):
    """fig5.csv of the default config holds data-limited adversarial runs only: two panel rows."""
    runs = _fabricated()
    fig5 = tmp_path / "fig5.csv"
    runs[runs["data"].isin(["frac0.1", "frac0.01"])].to_csv(fig5, index=False)
    grids = []
    grid = plots_doublewin.style.grid
    monkeypatch.setattr(plots_doublewin.style, "grid", lambda rows, cols, *a: grids.append((rows, cols)) or grid(rows, cols, *a))
    plots_doublewin.fig5(fig5, tmp_path / "fig5.pdf")
    assert grids == [(["AT-SA", "AT-RA"], [("cifar10", "frac0.01"), ("cifar10", "frac0.1")])]
    assert (tmp_path / "fig5.pdf").read_bytes()[:4] == b"%PDF"
