"""What each job needs, cut from the validated config: the Snakefile passes these specs to
the scripts, so a job reruns exactly when the settings that made it change."""

import json
from pathlib import Path

from . import config as config_mod


def dataset(cfg, name):
    return {"key": name, **cfg["datasets"][name]}


def prepared(cfg, name):
    """A dataset as training jobs see it: prepare_dataset downloaded it, so they never do. A `fabricate:`
    entry stays: the jobs rerun when the fabricated copy is written with other options."""
    spec = dataset(cfg, name)
    spec.pop("download", None)
    return spec


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
    return {"config_name": cfg["name"], "arch": cfg["model"]["arch"], "device": cfg.get("device", "auto"),
            "engine": cfg.get("engine", {})}


def pretrain(cfg, init):
    return {**common(cfg), "init": init, "format": cfg["pretrain"][init]["format"],
            "train": cfg["pretrain"][init]["train"], "source": prepared(cfg, cfg["source"]["dataset"]),
            "num_classes": cfg["model"]["source_classes"], "seed": 0}


def fetch(cfg, init):
    return {**common(cfg), "init": init, "entry": weights_entry(cfg, init),
            "num_classes": cfg["model"]["source_classes"]}


def ticket(cfg, init, pruner, k):
    retrain = dict(cfg["imp"]["retrain"])
    if pruner == "imp_at":
        retrain["train_attack"] = cfg["imp"].get("adversarial_retrain_attack",
                                                 {"eps": 8, "step": 16 / 3, "steps": 3, "model_mode": "train"})
    return {**common(cfg), "init": init, "pruner": pruner, "round": int(k),
            "prune_fraction": cfg["imp"]["prune_fraction"], "retrain": retrain,
            "source": prepared(cfg, cfg["source"]["dataset"]),
            "num_classes": cfg["model"]["source_classes"],
            "seed": cfg["random_pruning"].get("seed", 0)}


def regime_hp(cfg, name, regime):
    tr = cfg["transfer"]
    hp = {**tr["regimes"][regime], **tr.get("dataset_overrides", {}).get(name, {}).get(regime, {})}
    for key in ("augment", "eval_view"):
        if key in tr and key not in hp:
            hp[key] = tr[key]
    return hp


def transfer(cfg, init, pruner, k, name, data, regime, seed):
    tr = cfg["transfer"]
    spec = {**common(cfg), "init": init, "pruner": pruner, "round": int(k),
            "sparsity": config_mod.round_sparsity(cfg, int(k)), "dataset": prepared(cfg, name),
            "data": data, "fraction": config_mod.data_fraction(data),
            "subset": tr.get("subset", "first"), "subset_seed": tr.get("subset_seed", 0),
            "regime": regime, "train": regime_hp(cfg, name, regime), "seed": int(seed)}
    a2 = config_mod.analysis(cfg)["table_a2"]
    if regime == "adversarial" and name in a2["datasets"]:
        spec["transfer_attack"] = a2["attack"]
    if regime == "adversarial" and (aa := autoattack(cfg)):
        spec["autoattack"] = aa
    return spec


def attack_source(cfg, name):
    """Table A2's source model: trained adversarially from scratch, seeded apart from every ticket."""
    a2 = config_mod.analysis(cfg)["table_a2"]
    hp = {**regime_hp(cfg, name, "adversarial"), **a2["train"]}
    return {**common(cfg), "dataset": prepared(cfg, name), "train": hp, "seed": a2["seed"]}


def study(cfg, name):
    """What a trajectory + landscape study trains: (pruner, round, dataset, data, regime, seed).
    fig6: Fig. 6 / A9's ticket on full data; fig2-dense, fig2-ticket: Fig. 2's dense model and
    double-win ticket on the data-limited split."""
    an = config_mod.analysis(cfg)
    if name == "fig6":
        f6 = an["fig6"]
        k = f6["round"]
        return ("imp_st" if k else "dense"), k, f6["dataset"], "full", f6["regime"], f6["seed"]
    if name not in config_mod.STUDIES:
        raise ValueError(f"unknown study {name!r}; known: {config_mod.STUDIES}")
    f2 = an["fig2"]
    pruner, k = ("dense", 0) if name == "fig2-dense" else ("imp_st", f2["round"])
    return pruner, k, f2["dataset"], config_mod.data_label(f2["fraction"]), f2["regime"], f2["seed"]


def trajectory(cfg, init, name="fig6"):
    """A transfer run of the study again, keeping its checkpoints: for Fig. 6 the same spec, so the same
    run, unless the study's `train` (analysis.fig6.train / analysis.fig2.train) changes its training."""
    an = config_mod.analysis(cfg)
    f6 = an["fig6"]
    spec = transfer(cfg, init, *study(cfg, name))
    spec["train"] = {**spec["train"], **an["fig6" if name == "fig6" else "fig2"]["train"]}
    spec.pop("transfer_attack", None)
    spec.pop("autoattack", None)
    spec["checkpoint_every"] = f6["checkpoint_every"]
    return spec


def landscape(cfg, init, surface, name="fig6"):
    """The loss surface of a study's final model; grid settings are Fig. 6's for every study."""
    f6 = config_mod.analysis(cfg)["fig6"]
    _, _, dataset, _, _, seed = study(cfg, name)
    return {**common(cfg), "init": init, "surface": surface, "study": name, "dataset": prepared(cfg, dataset),
            "resolution": f6["resolution"], "span": f6["span"], "test_size": f6["test_size"],
            "attack": f6["attack"] if surface == "pgd" else None, "seed": seed,
            "eval_view": cfg["transfer"].get("eval_view", {"kind": "none"})}


def segmentation(cfg, init, pruner, k, name, seed):
    """One VOC instance-segmentation transfer of a ticket (Fig. A10)."""
    seg = cfg["segmentation"]
    return {**common(cfg), "init": init, "pruner": pruner, "round": int(k),
            "sparsity": config_mod.round_sparsity(cfg, int(k)), "dataset": prepared(cfg, name),
            "train": seg["train"], "detector": seg["detector"], "seed": int(seed)}


def audit(cfg):
    """The audit job: where the tickets are, whether to check accuracies, each dataset's chance accuracy, and
    whether Flying Bird regrows exactly what it prunes (gradient regrowth or regrow_count exact)."""
    fb = cfg.get("swt", {}).get("flying_bird", {})
    return {"results": cfg["results"], "learning": cfg.get("audit", {}).get("learning", True),
            "chance": {name: 100 / ds["num_classes"] for name, ds in cfg["datasets"].items() if ds.get("num_classes")},
            "exact_regrowth": fb.get("regrow") == "gradient" or fb.get("regrow_count") == "exact"}


def dumps(spec):
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


TEACHERS = ("standard", "adversarial")  # the order of kd_weights and of the --teacher files
TEACHER_RUNS = {"standard": "standard", "adversarial": "dense"}  # the swt_dense run that is each teacher


def autoattack(cfg):
    """The config's AutoAttack settings for a job, or None when switched off."""
    aa = cfg.get("autoattack")
    return dict(aa) if aa and aa.get("enabled", True) else None


def swt(cfg, arch, name, method, seed):
    """One Sparsity Winning Twice run: METHOD or METHOD-kd_swa, or "standard" (the standard teacher)."""
    sw = cfg["swt"]
    base, _, reg = method.partition("-")
    train = dict(sw["train"])
    if base == "standard":  # Chen et al.'s standard teacher: the same schedule without attack, best SA
        train.update(train_attack=None, eval_attack=None, select="sa", **sw["kd_swa"].get("standard_teacher", {}))
    spec = {**common(cfg), "arch": arch, "dataset": prepared(cfg, name), "method": base, "method_label": method,
            "seed": int(seed), "density": sw["density"], "train": train}
    if base == "robust_bird":
        spec["robust_bird"] = sw["robust_bird"]
    if base.startswith("flying_bird"):
        spec["flying_bird"] = sw["flying_bird"]
    if base == "flying_bird_plus":
        spec["flying_bird_plus"] = sw["flying_bird_plus"]
    if reg == "kd_swa":
        kd = sw["kd_swa"]
        train.update(kd_ce=kd["ce"], kd_weights=[kd["teachers"][t] for t in TEACHERS], kd_temperature=kd["temperature"])
        spec["swa"] = {"start": kd["swa_start"], "every": kd.get("swa_every", 1)}
    if base != "standard" and (aa := autoattack(cfg)):
        spec["autoattack"] = aa
    return spec
