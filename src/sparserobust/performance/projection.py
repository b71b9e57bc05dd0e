"""GPU-hours of a config, per figure, from step rates: measured ones (a benchmark CSV of a GPU) or,
until a GPU has measured this engine, a range between two rates anchored in published
ResNet-50 training throughputs (rates.ANCHORS).

The jobs come from Snakemake's own dry run (`-n -p -F TARGET`), so a figure's count is
exactly the training and evaluation its DAG holds. Each job's work is read from its spec:
epochs x training images x (1 + attack steps) passes, validation every epoch, test and
transfer-attack evaluation, landscape grids. It is priced per image with three numbers for
the job's architecture at its input size: a = one standard training step, b = one extra
attack step (forward + input-gradient backward), f = one evaluation forward (a / 3).
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ..pipeline import config

ROOT = Path(__file__).resolve().parents[3]  # the repository: its Snakefile
IMAGENET_TRAIN = 1_281_167  # ILSVRC-2012 training images (when the folder is not there to count)
TEST_IMAGES = {"cifar10": 10_000, "cifar100": 10_000, "svhn": 26_032, "cub200": 5_794, "visda2017": 55_388}
NATIVE_SIZE = {"torchvision": 32, "tinyimagenet": 64, "imagefolder": 224}
# VOC2012 segmentation lists (train 1,464, val 1,449 images). Mask R-CNN's FPN, RPN and box and mask
# heads are priced as MASK_RCNN_HEADS x the ResNet-50 backbone at the image size: an assumption, not
# a count or a measurement (the whole detector at 3x its backbone).
VOC_IMAGES = {"train": 1_464, "val": 1_449}
MASK_RCNN_HEADS = 2.0
def _size(spec, ds):
    if ds["kind"] in config.STREAMED_KINDS:  # the loader crops; the regimes' augment does not apply
        return (ds.get("views") or {}).get("crop", 224)
    aug = (spec.get("train") or {}).get("augment") or spec.get("eval_view") or {}
    if aug.get("size"):
        return aug["size"]
    return ds.get("image_size", 16) if ds["kind"] == "demo" else NATIVE_SIZE[ds["kind"]]


def _counts(ds, fraction=1.0):
    train = ds.get("train_size", IMAGENET_TRAIN)
    test = ds.get("test_size", TEST_IMAGES.get(ds.get("name") or ds["kind"], ds.get("val_size", 0)))
    return max(1, round(fraction * train)), ds.get("val_size", 0), test


def _report(f, b, hp):
    """Seconds per image of evaluate.report: SA, and RA under the eval attack."""
    attack = hp.get("eval_attack")
    return f + (f + attack["steps"] * b if attack else 0.0)


def _training(hp, n_train, n_val, cost, teachers=0):
    a, b, f = cost
    attack = hp.get("train_attack")
    per_epoch = n_train * (a + (attack["steps"] * b if attack else 0.0) + teachers * f)
    select = hp.get("select", "last")
    if select == "ra":
        per_epoch += n_val * _report(f, b, hp)
    elif select == "sa":
        per_epoch += n_val * f
    return hp["epochs"] * per_epoch


def job_seconds(script, spec, price):
    """GPU seconds of one job of `script` (the scripts/ name) with its spec."""
    if script == "make_ticket" and config.retrains(spec["pruner"], spec["round"]):
        ds = spec["source"]
        return _training(spec["retrain"], _counts(ds)[0], 0, price(spec["arch"], 224 if ds["kind"] == "imagefolder"
                                                                   else _size(spec, ds)))
    if script == "pretrain_demo":
        ds = spec["source"]
        return _training(spec["train"], *_counts(ds)[:2], price(spec["arch"], _size(spec, ds)))
    if script in ("transfer", "trajectory", "attack_source"):
        ds = spec["dataset"]
        cost = price(spec["arch"], _size(spec, ds))
        n_train, n_val, n_test = _counts(ds, spec.get("fraction", 1.0))
        seconds = _training(spec["train"], n_train, n_val, cost)
        if script == "transfer":
            seconds += n_test * _report(cost[2], cost[1], spec["train"])
            if spec.get("transfer_attack"):
                seconds += n_test * (cost[2] + spec["transfer_attack"]["steps"] * cost[1])
        return seconds
    if script == "segmentation":  # fine-tuning steps at the detector's image size, then one test pass
        ds, det, hp = spec["dataset"], spec["detector"], spec["train"]
        short = det.get("min_size", 800)  # a 4:3 VOC image resized to its short side, the long one capped
        side = int((short * min(det.get("max_size", 1333), 4 * short / 3)) ** 0.5)
        a, _, f = price(spec["arch"], side)
        n_train = ds.get("train_size", VOC_IMAGES.get(ds.get("train_set", "train"), 0))
        n_test = ds.get("test_size", VOC_IMAGES.get(ds.get("test_set", "val"), 0))
        return (1 + MASK_RCNN_HEADS) * (hp["epochs"] * n_train * a + n_test * f)
    if script == "landscape":
        ds = spec["dataset"]
        _, b, f = price(spec["arch"], _size(spec, ds))
        per_image = f + (spec["attack"]["steps"] * b if spec.get("attack") else 0.0)
        return 2 * spec["resolution"] ** 2 * spec["test_size"] * per_image
    if script == "swt":
        ds = spec["dataset"]
        cost = price(spec["arch"], _size(spec, ds))
        n_train, n_val, n_test = _counts(ds)
        hp = spec["train"]
        seconds = _training(hp, n_train, n_val, cost, teachers=len(hp.get("kd_weights", ())))
        if spec.get("swa"):  # each averaged epoch: a batch-norm pass, validation and test of the average
            averaged = -(-(hp["epochs"] - spec["swa"]["start"] + 1) // spec["swa"].get("every", 1))
            seconds += max(0, averaged) * (n_train * cost[2] + (n_val + n_test) * _report(cost[2], cost[1], hp))
        seconds += hp["epochs"] * n_test * _report(cost[2], cost[1], hp)  # the per-epoch test curve
        seconds += 2 * (n_test + n_train) * _report(cost[2], cost[1], hp)  # best and final models
        if spec.get("robust_bird"):  # stage 1 until the early-bird ticket: its full length, an upper bound
            seconds += _training(spec["robust_bird"]["stage1"], n_train, n_val, cost)
        return seconds
    return 0.0


def dry_run_jobs(target, configfiles):
    """[(script name, spec, argv)] of every job Snakemake would run to build `target` from nothing.
    `configfiles`: one path or a list (--nolock: it may run inside a running workflow)."""
    files = [configfiles] if isinstance(configfiles, str | Path) else list(configfiles)
    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "-F", "--nolock", "--configfile", *map(str, files),
           "--", target]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise ValueError(f"snakemake dry run of {target} failed:\n{(out.stderr or out.stdout)[-2000:]}")
    jobs = []
    for line in out.stdout.splitlines():
        if not line.startswith("Shell command: "):
            continue
        argv = shlex.split(line.split(":", 1)[1])
        entry = next((a for a in argv if a.startswith("scripts/") and a.endswith(".py")
                      and a != "scripts/launch.py"), None)  # the job's script, not its launcher
        if entry is None:
            continue
        script = entry.removeprefix("scripts/").removesuffix(".py")  # python or torchrun (GPU-hours alike)
        spec = json.loads(argv[argv.index("--spec") + 1]) if "--spec" in argv else None
        jobs.append((script, spec, argv))
    return jobs


def target_jobs(configfile, targets=None):
    """{target: [(script name, spec)]} of every job each target needs (default targets: every figure
    and table that `all` builds, then `all` itself)."""
    from concurrent.futures import ThreadPoolExecutor

    runs = {}
    if targets is None:  # the figures are the plot jobs of `all`, whose dry run is kept for its own row
        runs["all"] = dry_run_jobs("all", configfile)
        targets = [argv[argv.index("--out") + 1] for script, _, argv in runs["all"] if script == "plot"] + ["all"]
    todo = [t for t in targets if t not in runs]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:  # one snakemake process each
        runs.update(zip(todo, pool.map(lambda t: dry_run_jobs(t, configfile), todo)))
    return {target: [(s, spec) for s, spec, _ in runs[target] if spec is not None] for target in targets}


def price_jobs(jobs, prices):
    """One row per target of `jobs` ({target: [(script, spec)]}): GPU jobs, and per pricer of `prices`
    (one Pricer, or {label: Pricer}) GPU-hours and the largest job, in columns suffixed _label when
    there are several pricers."""
    prices = prices if isinstance(prices, dict) else {"": prices}
    rows = []
    for target, specs in jobs.items():
        row = {"target": target}
        for label, price in prices.items():
            seconds = [job_seconds(s, spec, price) for s, spec in specs]
            suffix = f"_{label}" if len(prices) > 1 else ""
            row["gpu_jobs"] = sum(1 for t in seconds if t > 0)
            row[f"gpu_hours{suffix}"] = sum(seconds) / 3600
            row[f"largest_job_gpu_hours{suffix}"] = max(seconds, default=0) / 3600
        rows.append(row)
    table = pd.DataFrame(rows)
    return table[[c for c in table if not c.startswith("largest")] + [c for c in table if c.startswith("largest")]]


def project(configfile, prices, targets=None):
    """One row per target (default: every figure and table of `all`, then `all` itself): GPU jobs,
    GPU-hours and the largest job at each of `prices` (see price_jobs)."""
    return price_jobs(target_jobs(configfile, targets), prices)
