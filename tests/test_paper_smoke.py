"""The paper's real path at a small size: config.yaml merged with .test/config/paper-smoke.yaml,
on files fabricated in the published layouts. The override may only shrink (checked here);
`make paper-smoke` runs every figure and then checks the run (tests/paper_smoke_results.py)."""


import yaml

from sparserobust.pipeline import config

from conftest import ROOT

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
