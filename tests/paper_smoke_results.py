"""Checks of a finished `make paper-smoke` run (config.yaml merged with .test/config/paper-smoke.yaml, on
the files scripts/fabricate_paper_data.py writes): `make paper-smoke` runs them after the workflow. They
are not part of `make test` (the file name is not test_*.py): the run takes the paper's ResNet-50 at
224 px through every rule. SPARSEROBUST_RESULTS names another results folder of that config."""

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.pipeline import config

from conftest import ROOT

RESULTS = Path(os.environ.get("SPARSEROBUST_RESULTS", ROOT / "results" / "paper-smoke"))
RUNS = RESULTS / "transfer/adversarial/imp_st/round2/cifar10/full"  # also requested by `make paper-smoke`


def test_imp_round_two_retrained_under_two_process_torchrun():
    log = (RESULTS / "logs/ticket/adversarial/imp_st/round2.log").read_text()
    # the override's batch of 16 shared by 2 processes, accumulated from micro-batches of at most 2 images
    assert re.search(r"engine: 2 process\(es\) on \S+, batch 16, 4 micro-batch\(es\) of at most 2 images", log), log
    assert log.count("imp_st round 2: sparsity 0.3600") == 1  # the first process logs and writes
    ticket = provenance.load_torch(RESULTS / "tickets/adversarial/imp_st/round2.pt")
    assert ticket["provenance"]["retrain_history"] and abs(masks.sparsity(ticket["mask"]) - 0.36) < 1e-3


def test_weights_checked_and_cifar_read_from_its_published_layout():
    for init in ("standard", "fast_adversarial", "adversarial"):
        assert "sha256" in (RESULTS / f"logs/fetch_weights/{init}.log").read_text(), init
    manifest = json.loads((RESULTS / "data/cifar10.json").read_text())
    assert manifest["checksums"] == "skip" and len(manifest["files"]) == 7  # 5 training batches, test, meta


@pytest.mark.parametrize("regime", ["standard", "adversarial"])
def test_transfer_at_the_papers_view_and_attack(regime):
    metrics = json.loads((RUNS / regime / "seed0.json").read_text())
    assert metrics["n_train"] == 2 and metrics["sparsity"] > 0.35 and "test_sa" in metrics
    made = metrics["provenance"]["config"]["train"]
    assert made["augment"]["size"] == 224
    if regime == "adversarial":
        assert {"test_ra", "test_transfer_ra"} <= set(metrics)
        assert (made["train_attack"]["steps"], made["eval_attack"]["steps"]) == (10, 20)


def test_every_figure_the_audit_and_each_jobs_peak_memory():
    figures = sorted((ROOT / "figures" / "paper-smoke").glob("*.pdf"))
    assert len(figures) == 16 and all(f.read_bytes()[:5] == b"%PDF-" for f in figures), figures
    audit = pd.read_csv(RESULTS / "tables/audit.csv")
    assert len(audit) and audit["ok"].all()
    benchmarks = list((RESULTS / "benchmarks").rglob("*.tsv"))
    assert benchmarks and all("max_rss" in b.read_text().splitlines()[0] for b in benchmarks)
    assert len(pd.read_csv(RESULTS / "tables/peak_memory.csv"))


def test_appendix_figures_at_the_papers_shape():
    """Fig. A10: CUB-200 and VisDA-2017 transfers of ResNet-50 at 224 px and VOC Mask R-CNN with the
    ResNet-50-FPN backbone, for every pre-training, the dense model and IMP round 3, the backbone still
    pruned; Fig. 2: both landscapes of the dense model and the ticket of every pre-training."""
    a10 = pd.read_csv(RESULTS / "tables/figA10.csv")
    transfers, voc = a10[a10["dataset"].isin(["cub200", "visda2017"])], a10[a10["dataset"] == "voc2012"]
    assert len(transfers) == 3 * 2 * 2 * 2 and len(voc) == 3 * 2 and set(voc["regime"]) == {"segmentation"}
    assert voc["backbone_zero_ok"].all()
    assert voc[["test_mask_ap", "test_mask_ap50", "test_box_ap", "test_box_ap50"]].stack().between(0, 100).all()
    paper = config.load(ROOT / "config.yaml")  # the override keeps IMP's prune fraction
    for row in a10.itertuples():
        assert abs(row.sparsity - config.round_sparsity(paper, row.round)) < 1e-3, row.file
        made = json.loads((ROOT / row.file).read_text())["provenance"]["config"]
        assert made["arch"] == "resnet50", row.file
        if row.regime == "segmentation":
            assert made["detector"]["fpn_channels"] == 256  # torchvision's maskrcnn_resnet50_fpn
        else:
            assert made["train"]["augment"]["size"] == 224
    assert transfers[transfers["regime"] == "adversarial"][["test_ra", "test_aa"]].notna().all().all()
    fig2 = pd.read_csv(RESULTS / "tables/fig2.csv")
    sizes = fig2.groupby(["study", "surface", "init"]).size()
    assert len(sizes) == 2 * 2 * 3 and sizes.nunique() == 1
    made = provenance.load_torch(RESULTS / "trajectory/fig2-ticket/adversarial.pt")["provenance"]["config"]
    assert (made["arch"], made["pruner"], made["round"], made["fraction"]) == ("resnet50", "imp_st", 2, 0.01)
