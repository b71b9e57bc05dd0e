"""The paper's real path at a small size: config.yaml merged with .test/config/paper-smoke.yaml,
on files fabricated in the published layouts. The override may only shrink (checked here), and a
slice of the run, one pre-training through fetch -> IMP round 2 (ImageNet-folder re-training
under 2-process torchrun, gradients accumulated) -> transfer on the CIFAR-10 layout in both
regimes, runs in the test suite; `make paper-smoke` runs every figure."""

import json
import subprocess
import sys

import yaml

from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.pipeline import config

from conftest import ROOT, snakemake

OVERRIDE = ROOT / ".test" / "config" / "paper-smoke.yaml"
POINTERS = {"name", "results", "figures", "root", "url", "path", "sha256", "sha256_file", "dataset_checksums"}
SHRINKABLE = {"epochs", "batch_size", "steps_per_epoch", "rounds", "round", "train_size", "val_size", "test_size",
              "workers", "resolution", "checkpoint_every", "update_every", "start_epoch", "swa_start",
              "min_size", "max_size", "warmup_iters"}
SHRINKABLE_AT = {"autoattack.n", "autoattack.steps", "autoattack.queries"}  # the attack's cost, not the training
LIMITS = {"steps_per_epoch", "test_size", "train_size"}  # caps that config.yaml leaves unset (= everything)
AUDIT = {"audit.learning"}  # what the audit checks on noise images, not what runs
LISTS = {"seeds", "datasets", "rounds", "data_fractions", "archs", "methods"}


def shrink_violations(paper, override, where=""):
    """Every override value that does more than shrink config.yaml or point at fabricated files."""
    bad = []
    for key, value in override.items():
        at = f"{where}.{key}" if where else key
        old = paper.get(key) if isinstance(paper, dict) else None
        if isinstance(value, dict):
            bad += shrink_violations(old or {}, value, at)
        elif key in POINTERS or at in AUDIT or (key == "download" and value is False):
            continue
        elif key in LISTS and isinstance(value, list):
            full = old if isinstance(old, list) else config.rounds(PAPER) if key == "rounds" else None
            if full is None or not set(value) <= set(full):
                bad.append(f"{at}: {value} is not a subset of {full}")
        elif (key in SHRINKABLE or at in SHRINKABLE_AT) and isinstance(value, int) and not isinstance(value, bool):
            if old is None and key not in LIMITS:
                bad.append(f"{at}: config.yaml has no {key} to shrink")
            elif old is not None and not value <= old:
                bad.append(f"{at}: {value} > {old}")
        else:
            bad.append(f"{at}: {value!r} is neither a smaller size nor a pointer to data")
    return bad


PAPER = yaml.safe_load((ROOT / "config.yaml").read_text())


def merged():
    """config.yaml with the override merged in, as Snakemake merges several --configfile."""
    from snakemake.utils import update_config

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load(OVERRIDE.read_text()))
    return cfg


def test_the_override_only_shrinks_and_keeps_the_papers_method():
    override = yaml.safe_load(OVERRIDE.read_text())
    assert shrink_violations(PAPER, override) == []
    assert shrink_violations(PAPER, {"transfer": {"regimes": {"adversarial": {"train_attack": {"steps": 1}}}}})
    assert shrink_violations(PAPER, {"seeds": [0, 7]}) and shrink_violations(PAPER, {"imp": {"rounds": 30}})
    assert shrink_violations(PAPER, {"imp": {"retrain": {"momentum": 0.5}}})
    assert shrink_violations(PAPER, {"transfer": {"regimes": {"standard": {"epochs": True}}}})
    cfg = config.validate(merged())
    assert cfg["model"]["arch"] == "resnet50" and cfg["source"]["dataset"] == "imagenet"
    adv = cfg["transfer"]["regimes"]["adversarial"]
    assert adv["train_attack"]["steps"] == 10 and adv["eval_attack"]["steps"] == 20
    assert cfg["transfer"]["augment"] == {"kind": "random_resized_crop", "size": 224}
    assert cfg["resources"]["ticket"]["gpu"] == 8  # capped to 2 by --resources gpu=2: 2-process torchrun
    assert set(cfg["transfer"]["datasets"]) == {"cifar10", "cifar100", "svhn"}
    assert "tinyimagenet" in cfg["swt"]["datasets"]
    assert {e["format"] for e in cfg["pretrain"].values()} == {"torchvision", "fast_adversarial", "robustness"}


def test_paper_shape_slice_fetch_imp_round2_under_torchrun_and_transfer(tmp_path):
    data = tmp_path / "data"
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "fabricate_paper_data.py"), "--out", str(data),
                           "--imagenet-train", "1", "--cifar-train", "24", "--cifar-test", "4", "--svhn-train", "24",
                           "--svhn-test", "4", "--tiny-train", "1", "--tiny-val", "10"],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    merged()  # the override merges cleanly
    local = {"results": str(tmp_path / "results"), "figures": str(tmp_path / "figures"),
             "datasets": {k: {"root": str(data / "torchvision")} for k in ("cifar10", "cifar100", "svhn")},
             "pretrain": {k: {"url": (data / "weights" / v["url"].rsplit("/", 1)[1]).as_uri(),
                              "sha256_file": str(data / "weights" / "SHA256SUMS")}
                          for k, v in yaml.safe_load(OVERRIDE.read_text())["pretrain"].items()}}
    local["datasets"].update(imagenet={"root": str(data / "imagenet")},
                             tinyimagenet={"root": str(data / "tiny-imagenet-200")})
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(local))
    runs = tmp_path / "results/transfer/adversarial/imp_st/round2/cifar10/full"
    out = snakemake("--cores", "2", "--resources", "gpu=2", "--nolock", "--configfile", str(ROOT / "config.yaml"),
                    str(OVERRIDE), str(tmp_path / "local.yaml"), "--",
                    str(runs / "standard/seed0.json"), str(runs / "adversarial/seed0.json"), timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    res = tmp_path / "results"
    ticket_log = (res / "logs/ticket/adversarial/imp_st/round2.log").read_text()
    assert "engine: 2 process(es) on cpu, batch 16, 4 micro-batch(es) of at most 2 images" in ticket_log
    assert ticket_log.count("imp_st round 2: sparsity 0.3600") == 1  # the first process logs and writes
    ticket = provenance.load_torch(res / "tickets/adversarial/imp_st/round2.pt")
    assert ticket["provenance"]["retrain_history"] and abs(masks.sparsity(ticket["mask"]) - 0.36) < 1e-3
    assert "sha256" in (res / "logs/fetch_weights/adversarial.log").read_text()
    manifest = json.loads((res / "data/cifar10.json").read_text())
    assert manifest["checksums"] == "skip" and len(manifest["files"]) == 7
    for regime in ("standard", "adversarial"):
        metrics = json.loads((runs / regime / "seed0.json").read_text())
        assert metrics["n_train"] == 2 and metrics["sparsity"] > 0.35 and "test_sa" in metrics
        assert metrics["provenance"]["config"]["train"]["augment"]["size"] == 224
    adv = json.loads((runs / "adversarial/seed0.json").read_text())
    assert {"test_ra", "test_transfer_ra"} <= set(adv) and adv["provenance"]["config"]["train"]["eval_attack"]["steps"] == 20
    for bench in (res / "benchmarks").rglob("*.tsv"):  # every job's peak memory is recorded
        assert "max_rss" in bench.read_text().splitlines()[0]
