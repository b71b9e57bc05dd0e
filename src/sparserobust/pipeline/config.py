"""Config loading and validation: the JSON schema first, then the checks a schema cannot say.

Every error names the key (dotted path) and what to do, and is raised before any job runs.
"""

import functools
from pathlib import Path

import yaml

from ..foundations.names import ARCHS, DEVICES, arch_problem
from .targets import figures

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
IMP_PRUNERS = ("imp_st", "imp_at")  # iterative: round k prunes round k-1's re-trained ticket
PRUNERS = (*IMP_PRUNERS, "omp", "random", "dense")
REGIMES = ("standard", "adversarial")  # downstream training: clean (ST) or PGD adversarial (AT)
# rules whose jobs train or evaluate networks: they ask for GPUs and start through scripts/launch.py
GPU_RULES = ("pretrain_demo", "ticket", "transfer", "attack_source", "trajectory", "landscape", "swt_dense",
             "swt_sparse", "segmentation")
STREAMED_KINDS = ("cub200", "visda2017")  # classification datasets decoded and cropped on CPU workers
STUDIES = ("fig6", "fig2-dense", "fig2-ticket")  # the trajectory + landscape runs: Fig. 6 / A9, and Fig. 2


def retrains(pruner, k):
    """Whether the ticket of (pruner, round k) re-trains on the source task (IMP after round 1)."""
    return pruner in IMP_PRUNERS and int(k) > 1


class ConfigError(ValueError):
    pass


def _path(error_path):
    out = ""
    for part in error_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load(path):
    try:
        with open(path) as handle:
            cfg = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return validate(cfg)


@functools.cache
def _schema():
    return yaml.safe_load(SCHEMA.read_text())


def validate(cfg):
    import jsonschema

    validator = jsonschema.Draft7Validator(_schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"{_path(e.absolute_path)}: {_message(e)}" for e in errors[:10]]
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines))
    _semantic(cfg)
    return cfg


def _message(error):
    path = list(map(str, error.absolute_path))
    if error.validator == "additionalProperties" and len(path) == 2 and path[0] == "resources":
        known = sorted(error.schema.get("properties", {}))
        return (f"{error.message}: not a resource that Snakemake or snakemake-executor-plugin-slurm "
                f"knows (check its spelling); known: {', '.join(known)}")
    if error.validator == "additionalProperties":
        return f"{error.message} (remove it or check its spelling)"
    if path == ["device"]:
        return f"{error.instance!r} is not a device; give one of {DEVICES}"
    if error.validator == "pattern" and "sha256" in path:
        return f"{error.instance!r} is not a sha256: give 8 to 64 lower-case hex digits, or null"
    return error.message


def _semantic(cfg):
    def fail(key, msg):
        raise ConfigError(f"invalid config:\n  {key}: {msg}")

    for key, arch in [("model.arch", cfg["model"]["arch"]),
                      *((f"swt.archs[{i}]", a) for i, a in enumerate(cfg.get("swt", {}).get("archs", [])))]:
        problem = arch_problem(arch)
        if problem:
            fail(key, f"{arch!r} {problem}; known: {ARCHS}")
    datasets = cfg["datasets"]
    for i, name in enumerate(cfg["transfer"]["datasets"]):
        if name not in datasets:
            fail(f"transfer.datasets[{i}]", f"unknown dataset {name!r}; defined: {sorted(datasets)}")
    if cfg["source"]["dataset"] not in datasets:
        fail("source.dataset", f"unknown dataset {cfg['source']['dataset']!r}; defined: {sorted(datasets)}")
    for name, spec in datasets.items():
        if spec["kind"] == "torchvision" and "name" not in spec:
            fail(f"datasets.{name}.name", "torchvision datasets need name: cifar10, cifar100 or svhn")
        if spec["kind"] not in ("imagefolder", "voc") and name in _transfer_datasets(cfg):
            for size in ("train_size", "val_size"):
                if size not in spec:
                    fail(f"datasets.{name}.{size}", "is required for a transfer dataset")
        if spec["kind"] != "demo" and "root" not in spec:
            fail(f"datasets.{name}.root", "the folder that holds (or will hold) the data is required")
        if {"decode", "prefetch"} & set(spec) and spec["kind"] not in ("imagefolder", *STREAMED_KINDS):
            fail(f"datasets.{name}.{min({'decode', 'prefetch'} & set(spec))}", "applies to the streamed kinds "
                 f"(imagefolder, {', '.join(STREAMED_KINDS)}) only; remove it")
    for i, name in enumerate(cfg["random_pruning"]["pretrain"]):
        if name not in cfg["pretrain"]:
            fail(f"random_pruning.pretrain[{i}]", f"unknown pre-training {name!r}; defined: {sorted(cfg['pretrain'])}")
    for init, entry in cfg["pretrain"].items():
        key = f"pretrain.{init}"
        if entry.get("path") and not Path(entry["path"]).is_file():
            fail(f"{key}.path", f"{entry['path']} does not exist; set it to the downloaded weights file "
                 "or to null to use the url")
        if entry.get("url") and entry.get("path"):
            fail(key, "give url or path, not both")
        if entry.get("sha256") and entry.get("sha256_file"):
            fail(key, "give sha256 or sha256_file, not both")
    for name, spec in datasets.items():
        if spec.get("download") and cfg.get("dataset_checksums") == "skip":
            fail(f"datasets.{name}.download", "dataset_checksums: skip is only for fabricated files, which a "
                 "download would overwrite: set download: false")
    for rule, res in cfg.get("resources", {}).items():
        if rule == "segmentation" and res.get("gpu", 1) > 1:
            fail("resources.segmentation.gpu", "segmentation jobs run in one process on one GPU; set gpu: 1")
        if rule in GPU_RULES and "gres" in res:
            fail(f"resources.{rule}.gres", "GPU rules ask for GPUs with gpu (and gpu_model): the launcher and "
                 "the batch split read gpu; remove gres")
    for i, r in enumerate(cfg["transfer"].get("rounds", [])):
        if r > cfg["imp"]["rounds"]:
            fail(f"transfer.rounds[{i}]", f"round {r} is beyond imp.rounds = {cfg['imp']['rounds']}")
    data_limited_regimes(cfg)
    from . import figure_checks  # it reads this module's helpers

    figure_checks.check(cfg, analysis(cfg), fail)
    known = figures(cfg)
    for i, name in enumerate(cfg.get("targets", [])):
        if name not in known:
            fail(f"targets[{i}]", f"{name!r} is not a figure or table of this config; known: {', '.join(known)}")
    for i, name in enumerate(cfg.get("swt", {}).get("datasets", [])):
        if name not in datasets:
            fail(f"swt.datasets[{i}]", f"unknown dataset {name!r}; defined: {sorted(datasets)}")
    for name, regimes in cfg["transfer"].get("dataset_overrides", {}).items():
        if name not in datasets:
            fail(f"transfer.dataset_overrides.{name}", f"unknown dataset; defined: {sorted(datasets)}")
        for regime, override in regimes.items():
            check_train(cfg["transfer"]["regimes"][regime] | override,
                         f"transfer.dataset_overrides.{name}.{regime}", fail)


def analysis(cfg):
    """The analysis settings with their defaults filled in."""
    an = cfg.get("analysis", {})
    datasets = cfg["transfer"]["datasets"]
    inits = list(cfg["pretrain"])
    adv = cfg["transfer"]["regimes"]["adversarial"]
    attack = adv.get("eval_attack") or {"eps": 8, "step": 2, "steps": 20}
    return {
        "fig4": {"init": "adversarial" if "adversarial" in inits else inits[0],
                 "datasets": datasets[:2], **an.get("fig4", {})},
        "fig5": {"datasets": datasets, **an.get("fig5", {})},
        "fig6": {"round": min(cfg["imp"]["rounds"], 10), "dataset": datasets[0], "regime": "adversarial",
                 "seed": cfg["seeds"][0], "resolution": 51, "span": 1.0, "test_size": 1000,
                 "checkpoint_every": 1, "attack": attack, "train": {}, **an.get("fig6", {})},
        "fig7": {"round": min(cfg["imp"]["rounds"], 10), "dataset": datasets[0], "data": "full",
                 "pointwise": "separate", **an.get("fig7", {})},
        "table_a2": {"datasets": datasets[:1], "seed": 1000, "train": {}, "attack": attack,
                     **an.get("table_a2", {})},
        "fig2": {"round": min(cfg["imp"]["rounds"], 10), "dataset": datasets[0], "fraction": 0.01,
                 "regime": "adversarial", "seed": cfg["seeds"][0], "train": {}, **an.get("fig2", {})},
        "figA10": {"datasets": [], "segmentation": None, "rounds": rounds(cfg), "regimes": list(REGIMES),
                   **an.get("figA10", {})},
    }


def _transfer_datasets(cfg):
    from . import appendix

    return appendix.transfer_datasets(cfg)


def data_limited_regimes(cfg):
    """The downstream regimes run on the data-limited splits (Fig. 5), in REGIMES order. Default:
    adversarial only, as in the authors' code (VITA-Group/Double-Win-LTH): the limited-data option
    --data_number exists only in main_adv_eval.py and main_adv_eval_svhn.py, not in main_std_eval.py."""
    chosen = cfg["transfer"].get("data_limited_regimes", ["adversarial"])
    for i, regime in enumerate(chosen):
        if regime not in REGIMES:
            raise ConfigError(f"invalid config:\n  transfer.data_limited_regimes[{i}]: unknown regime {regime!r}; "
                              f"known: {', '.join(REGIMES)}")
    if not chosen:
        raise ConfigError("invalid config:\n  transfer.data_limited_regimes: name at least one regime "
                          "(leave out data_fractions to run no data-limited transfer)")
    return [r for r in REGIMES if r in chosen]


def data_label(fraction):
    return "full" if fraction >= 1 else f"frac{fraction:g}"


def data_labels(cfg):
    return ["full"] + [data_label(f) for f in cfg["transfer"].get("data_fractions", [])]


def data_fraction(label):
    return 1.0 if label == "full" else float(label[len("frac"):])


def check_train(raw, key, fail):
    """A regime's training settings with overrides merged in: the schema's train rules, then hparams."""
    import jsonschema

    from ..foundations import hparams

    train_schema = {"$ref": "#/definitions/train", "definitions": _schema()["definitions"]}
    errors = sorted(jsonschema.Draft7Validator(train_schema).iter_errors(raw), key=lambda e: list(map(str, e.path)))
    if errors:
        where = _path(errors[0].absolute_path) if errors[0].absolute_path else ""
        fail(f"{key}{'' if where.startswith('[') or not where else '.'}{where}", _message(errors[0]))
    try:
        hparams.train(raw)
    except (TypeError, ValueError) as err:
        fail(key, str(err))


def rounds(cfg):
    """The IMP rounds transferred downstream (0 = dense)."""
    return cfg["transfer"].get("rounds") or list(range(cfg["imp"]["rounds"] + 1))


def round_sparsity(cfg, k):
    return 1.0 - (1.0 - cfg["imp"]["prune_fraction"]) ** k
