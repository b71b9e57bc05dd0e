"""What each job needs, cut from the validated config: the Snakefile passes these specs to
the scripts, so a job reruns exactly when the settings that made it change."""

import json
from pathlib import Path

from . import config as config_mod


def dataset(cfg, name):
    return {"key": name, **cfg["datasets"][name]}


def weights_entry(cfg, init):
    """A pretrain entry with the demo's own pre-trained file served by file:// URL."""
    entry = dict(cfg["pretrain"][init])
    entry.pop("train", None)
    if "train" in cfg["pretrain"][init]:
        made = Path(pretrained_file(cfg, init)).resolve()
        entry.update(url=made.as_uri(), sha256_file=f"{made}.sha256")
    return entry


def pretrained_file(cfg, init):
    return f"{cfg['results']}/pretrain/{init}.pth"


def common(cfg):
    return {"config_name": cfg["name"], "arch": cfg["model"]["arch"], "device": cfg.get("device", "auto")}


def pretrain(cfg, init):
    return {**common(cfg), "init": init, "format": cfg["pretrain"][init]["format"],
            "train": cfg["pretrain"][init]["train"], "source": dataset(cfg, cfg["source"]["dataset"]),
            "num_classes": cfg["model"]["source_classes"], "seed": 0}


def fetch(cfg, init):
    return {**common(cfg), "init": init, "entry": weights_entry(cfg, init),
            "num_classes": cfg["model"]["source_classes"]}


def ticket(cfg, init, pruner, k):
    return {**common(cfg), "init": init, "pruner": pruner, "round": int(k),
            "prune_fraction": cfg["imp"]["prune_fraction"], "retrain": cfg["imp"]["retrain"],
            "source": dataset(cfg, cfg["source"]["dataset"]),
            "num_classes": cfg["model"]["source_classes"],
            "seed": cfg["random_pruning"].get("seed", 0)}


def transfer(cfg, init, pruner, k, name, regime, seed):
    tr = cfg["transfer"]
    hp = {**tr["regimes"][regime], **tr.get("dataset_overrides", {}).get(name, {}).get(regime, {})}
    for key in ("augment", "eval_view"):
        if key in tr and key not in hp:
            hp[key] = tr[key]
    return {**common(cfg), "init": init, "pruner": pruner, "round": int(k),
            "sparsity": config_mod.round_sparsity(cfg, int(k)), "dataset": dataset(cfg, name),
            "regime": regime, "train": hp, "seed": int(seed)}


def dumps(spec):
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))
