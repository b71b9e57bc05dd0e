"""Fig. 7: all-zero conv kernels per layer at one common IMP round, 1x1 convolutions apart."""

import argparse
import copy

import pandas as pd
import pytest
import torch
import yaml

from sparserobust.analysis import metrics, plots_doublewin, tables
from sparserobust.analysis import overlap as analysis
from sparserobust.foundations import provenance
from sparserobust.pipeline import config

from conftest import ROOT


def hand_mask(extra_pruned=0):
    """A 3x3 conv (4 out, 2 in: 8 kernels) with kernels (0, 0) and (2, 1) fully zero and (1, 0)
    zero but for one weight; a 1x1 conv (3 out, 4 in: 12 single-weight kernels) with 5 pruned
    weights (+ extra_pruned); a linear layer, which is no conv."""
    conv = torch.ones(4, 2, 3, 3, dtype=torch.bool)
    conv[0, 0] = False
    conv[2, 1] = False
    conv[1, 0] = False
    conv[1, 0, 2, 2] = True
    point = torch.ones(3, 4, 1, 1, dtype=torch.bool)
    point.view(-1)[:5 + extra_pruned] = False
    stem = torch.ones(2, 3, 7, 7, dtype=torch.bool)
    stem[1, 2] = False
    return {"stem.weight": stem, "conv.weight": conv, "short.weight": point,
            "fc.weight": torch.zeros(10, 3, dtype=torch.bool)}


def test_zero_kernels_known_answer_with_1x1_separate():
    table = analysis.zero_kernels(hand_mask()).set_index("layer")
    assert list(table.index) == ["stem.weight", "conv.weight", "short.weight"]  # the linear layer is no conv
    assert table.loc["conv.weight", "zero_kernels"] == 2 and table.loc["conv.weight", "kernels"] == 8
    assert table.loc["short.weight", "zero_kernels"] == 5 and table.loc["short.weight", "kernels"] == 12
    assert table.loc["stem.weight", "zero_kernels"] == 1
    assert table["kernel_size"].to_dict() == {"stem.weight": "7x7", "conv.weight": "3x3", "short.weight": "1x1"}
    assert table["layer_index"].tolist() == [0, 1, 2]


def test_exclude_drops_1x1_layers_and_keeps_network_places():
    table = analysis.zero_kernels(hand_mask(), pointwise="exclude")
    assert table["layer"].tolist() == ["stem.weight", "conv.weight"]
    assert table["layer_index"].tolist() == [0, 1]
    assert table["zero_kernels"].tolist() == [1, 2]
    only_1x1 = {"a.weight": torch.zeros(2, 2, 1, 1, dtype=torch.bool)}
    assert analysis.zero_kernels(only_1x1, "exclude").empty
    with pytest.raises(ValueError, match="analysis.fig7.pointwise"):
        analysis.zero_kernels(hand_mask(), pointwise="drop")


def verdict_table():
    """extreme()'s table as read back from CSV: standard's extreme round is 1, adversarial's 3;
    other datasets and pruners are there to be filtered out."""
    rows = [("standard", "imp_st", "cifar10", "full", 1, "1"),
            ("adversarial", "imp_st", "cifar10", "full", 3, "1 2 3"),
            ("standard", "imp_st", "cifar100", "full", 2, "2"),
            ("standard", "imp_at", "cifar10", "full", 2, "1 2"),
            ("adversarial", "imp_st", "cifar10", "frac0.1", None, "")]
    return pd.DataFrame(rows, columns=["init", "pruner", "dataset", "data", "extreme_round", "double_win_rounds"])


def save_ticket(path, init, k, mask):
    sp = 1 - sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    provenance.save_torch(path, {"mask": mask, "sparsity": sp, "provenance": {"config": {"init": init, "round": k}}})
    return str(path)


def test_double_win_rounds_reads_the_csv(tmp_path):
    path = tmp_path / "verdicts.csv"
    verdict_table().to_csv(path, index=False)
    read = pd.read_csv(path)
    assert metrics.double_win_rounds(read, "cifar10", "full") == {"standard": {1}, "adversarial": {1, 2, 3}}
    assert metrics.double_win_rounds(read, "cifar10", "frac0.1") == {"adversarial": set()}
    assert metrics.double_win_rounds(read, "cifar100", "full") == {"standard": {2}}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_round_comes_from_the_config_not_the_verdicts(tmp_path, k):
    """Standard's extreme double-win round is 1 and adversarial's 3: both rows still use round k."""
    verdicts = tmp_path / "verdicts.csv"
    verdict_table().to_csv(verdicts, index=False)
    paths = [save_ticket(tmp_path / f"{init}{r}.pt", init, r, hand_mask(extra_pruned=r + (init == "standard")))
             for init in ("standard", "adversarial") for r in (1, 2, 3)]
    out = tmp_path / "fig7.csv"
    args = argparse.Namespace(verdicts=str(verdicts), dataset="cifar10", data="full", round=k,
                              pointwise="separate", inputs=paths, out=str(out))
    tables.kernels(args)
    table = pd.read_csv(out)
    assert set(table["round"]) == {k}
    per_init = table[table["layer"] == "short.weight"].set_index("init")
    assert per_init.loc["standard", "zero_kernels"] == 5 + k + 1  # the round-k ticket's mask
    assert per_init.loc["adversarial", "zero_kernels"] == 5 + k
    assert per_init.loc["adversarial", "kernel_size"] == "1x1"
    assert bool(per_init.loc["standard", "double_win"]) == (k == 1)
    assert bool(per_init.loc["adversarial", "double_win"])
    assert table[table["layer"] == "conv.weight"]["zero_kernels"].tolist() == [2, 2]
    plots_doublewin.fig7(out, tmp_path / "fig7.pdf")
    assert (tmp_path / "fig7.pdf").read_bytes()[:5] == b"%PDF-"

    args.pointwise = "exclude"
    tables.kernels(args)
    assert "1x1" not in set(pd.read_csv(out)["kernel_size"])
    plots_doublewin.fig7(out, tmp_path / "fig7_exclude.pdf")


def test_a_missing_round_is_an_error(tmp_path):
    tickets = {("standard", 2): (0.5, hand_mask()), ("adversarial", 3): (0.6, hand_mask())}
    with pytest.raises(ValueError, match=r"round 2 \(analysis.fig7.round\) for adversarial"):
        analysis.zero_kernels_at(tickets, 2, {})


def test_the_figure_refuses_mixed_rounds(tmp_path):
    tickets = {("standard", 2): (0.5, hand_mask()), ("adversarial", 2): (0.5, hand_mask())}
    table = analysis.zero_kernels_at(tickets, 2, {"standard": {2}})
    assert table.groupby("init")["double_win"].first().to_dict() == {"adversarial": False, "standard": True}
    table.loc[table["init"] == "standard", "round"] = 3
    path = tmp_path / "mixed.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match="one common round"):
        plots_doublewin.fig7(path, tmp_path / "mixed.pdf")


def paper():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_config_round_defaults_and_paper_values():
    cfg = paper()
    assert config.analysis(cfg)["fig7"]["round"] == 10 and config.analysis(cfg)["fig7"]["pointwise"] == "separate"
    assert abs(100 * config.round_sparsity(cfg, 10) - 89.26) < 0.01
    del cfg["analysis"]["fig7"]
    assert config.analysis(cfg)["fig7"] == {"round": 10, "dataset": "cifar10", "data": "full", "pointwise": "separate"}
    demo = config.load(ROOT / "config" / "demo.yaml")
    assert config.analysis(demo)["fig7"]["round"] == 2 <= demo["imp"]["rounds"]


@pytest.mark.parametrize("fig7, match", [
    ({"round": 20}, "analysis.fig7.round: round 20 is beyond imp.rounds = 19"),
    ({"round": 0}, "analysis.fig7.round"),
    ({"pointwise": "drop"}, "analysis.fig7.pointwise"),
])
def test_config_validation(fig7, match):
    cfg = copy.deepcopy(paper())
    cfg["analysis"]["fig7"].update(fig7)
    with pytest.raises(config.ConfigError, match=match):
        config.validate(cfg)


def test_round_must_be_transferred():
    cfg = copy.deepcopy(paper())
    cfg["transfer"]["rounds"] = [0, 5, 12]
    cfg["analysis"]["fig6"]["round"] = 5
    with pytest.raises(config.ConfigError, match="analysis.fig7.round: round 10 is not among the transferred"):
        config.validate(cfg)
    cfg["analysis"]["fig7"]["round"] = 12
    config.validate(cfg)
