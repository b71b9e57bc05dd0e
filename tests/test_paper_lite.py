"""config/paper-lite.yaml: layered on config.yaml it keeps the papers' method, drops only lists, decides
every published extreme double-win sparsity and Sparsity Winning Twice's CIFAR rows, and its `all`
costs at most a fifth of the paper config's GPU-hours by the same projection."""

import pytest
import yaml
from test_paper_smoke import PAPER, shrink_violations

from sparserobust.analysis import published
from sparserobust.performance import projection, rates
from sparserobust.pipeline import config
from sparserobust.pipeline import targets as figure_targets

from conftest import ROOT

LITE = ROOT / "config" / "paper-lite.yaml"


def lite():
    """config.yaml with paper-lite merged in, as Snakemake merges several --configfile."""
    from snakemake.utils import update_config

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load(LITE.read_text()))
    return config.validate(cfg)


def without(mapping, *keys):
    return {k: v for k, v in mapping.items() if k not in keys}


def test_lite_only_drops_and_keeps_the_method():
    override = yaml.safe_load(LITE.read_text())
    targets = override.pop("targets")
    assert shrink_violations(PAPER, override) == []  # the lists it sets are subsets of config.yaml's
    assert set(targets) < set(figure_targets.figures(config.validate(PAPER)))
    cfg = lite()
    for key in set(PAPER) - {"name", "results", "transfer", "analysis", "swt"}:
        assert cfg[key] == PAPER[key], key  # seeds, IMP, weights, datasets, resources: config.yaml's
    assert without(cfg["transfer"], "datasets", "rounds") == without(PAPER["transfer"], "datasets", "rounds")
    assert without(cfg["swt"], "archs", "datasets") == without(PAPER["swt"], "archs", "datasets")
    assert without(cfg["analysis"], "fig5") == without(PAPER["analysis"], "fig5")
    assert figure_targets.double_win_runs(cfg) == ["fig3"]
    assert figure_targets.double_win_runs(config.validate(PAPER)) == ["fig3", "fig4", "fig5"]


def test_every_published_extreme_is_decided_by_its_neighbouring_rounds():
    cfg = lite()
    rounds = config.rounds(cfg)
    by_sparsity = {round(100 * config.round_sparsity(cfg, k), 2): k for k in range(cfg["imp"]["rounds"] + 1)}
    for (init, dataset), sparsity in published.DOUBLE_WIN_SPARSITY.items():
        k = by_sparsity[sparsity]
        assert {k - 1, k, k + 1} <= set(rounds), (init, dataset, k)
        assert dataset in cfg["transfer"]["datasets"] and init in cfg["pretrain"]


def test_unknown_target_is_named():
    with pytest.raises(config.ConfigError, match=r"targets\[1\]: 'fig99' is not a figure"):
        config.validate({**PAPER, "targets": ["fig3", "fig99"]})


@pytest.fixture(scope="module")
def dags():
    """Every job of `all` under the paper config and under paper-lite (Snakemake's dry runs)."""
    full = projection.target_jobs(["config.yaml"], ["all"])["all"]
    small = projection.target_jobs(["config.yaml", str(LITE)], ["all"])["all"]
    return full, small


def test_lite_all_is_a_valid_dag_of_the_kept_runs(dags):
    _, small = dags
    scripts = {s for s, _ in small}
    assert {"transfer", "make_ticket", "attack_source", "swt"} <= scripts
    assert not scripts & {"landscape", "trajectory", "segmentation"}
    transfers = [spec for s, spec in small if s == "transfer"]
    assert {t["dataset"]["name"] for t in transfers} == {"cifar10", "cifar100"}
    assert {t["data"] for t in transfers} == {"full"} and {t["pruner"] for t in transfers} == {"dense", "imp_st", "random"}
    assert {t["round"] for t in transfers} == set(lite()["transfer"]["rounds"])
    tickets = {(t["pruner"], t["round"]) for s, t in small if s == "make_ticket"}
    assert ("imp_st", 12) in tickets and ("imp_st", 2) in tickets and not any(p == "imp_at" for p, _ in tickets)
    runs = {(t["arch"], t["dataset"]["name"], t["method_label"]) for s, t in small if s == "swt"}
    for dataset, method in published.SWT:
        if dataset != "tinyimagenet":
            assert ("preact_resnet18", dataset, method) in runs


def test_lite_costs_at_most_a_fifth_of_the_paper_config(dags):
    full, small = dags
    prices, _ = rates.anchored_rates()
    table = projection.price_jobs({"paper": full, "paper-lite": small}, prices).set_index("target")
    for label in prices:
        hours = table[f"gpu_hours_{label}"]
        assert 0 < hours["paper-lite"] <= 0.2 * hours["paper"], (label, hours.to_dict())
