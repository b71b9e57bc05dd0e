"""GPU-hours of a config, per figure, from step rates: measured ones (a benchmark CSV) or an
explicitly assumed fraction of a device's peak FLOP rate.

The jobs come from Snakemake's own dry run (`-n -p -F TARGET`), so a figure's count is
exactly the training and evaluation its DAG holds. Each job's work is read from its spec:
epochs x training images x (1 + attack steps) passes, validation every epoch, test and
transfer-attack evaluation, landscape grids. It is priced per image with three numbers for
the job's architecture at its input size: a = one standard training step, b = one extra
attack step (forward + input-gradient backward), f = one evaluation forward (a / 3).
"""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ..models import flops
from ..models import registry as models
from ..pipeline import config
from . import bench

ROOT = Path(__file__).resolve().parents[3]  # the repository: its Snakefile
IMAGENET_TRAIN = 1_281_167  # ILSVRC-2012 training images (when the folder is not there to count)
TEST_IMAGES = {"cifar10": 10_000, "cifar100": 10_000, "svhn": 26_032, "cub200": 5_794, "visda2017": 55_388}
NATIVE_SIZE = {"torchvision": 32, "tinyimagenet": 64, "imagefolder": 224}
# VOC2012 segmentation lists (train 1,464, val 1,449 images). Mask R-CNN's FPN, RPN and box and mask
# heads are priced as MASK_RCNN_HEADS x the ResNet-50 backbone at the image size: an assumption, not
# a count or a measurement (the whole detector at 3x its backbone).
VOC_IMAGES = {"train": 1_464, "val": 1_449}
MASK_RCNN_HEADS = 2.0


def forward_flops(arch, size, classes=10):
    return flops.dense_layer_flops(models.build(arch, classes), (3, size, size))[1]


def measured_costs(csv):
    """{(arch, size): (a, b, f)} seconds per image, from a benchmark CSV's standard and PGD rows."""
    table = pd.read_csv(csv)
    costs = {}
    for case, rows in table.groupby("model"):
        std = rows[rows.step == "standard"]
        adv = rows[rows.step.str.startswith("PGD-")]
        if std.empty or adv.empty or case not in bench.CASES:
            continue
        k = int(re.match(r"PGD-(\d+)", adv.step.iloc[0]).group(1))
        a = 1 / float(std.engine_img_s.iloc[0])
        b = (1 / float(adv.engine_img_s.iloc[0]) - a) / k
        arch, _, size, _ = bench.CASES[case]
        costs[(arch, size)] = (a, b, a / 3)
    if not costs:
        raise ValueError(f"{csv}: no model with both a standard and a PGD row; run scripts/benchmark.py")
    return costs


class Pricer:
    """Seconds per image (a, b, f) for any (arch, size): a measured row of the same architecture
    family (`preact_resnet18` for `preact_resnet18:0.25`), scaled by forward FLOPs to this
    width and size; or FLOPs / an assumed rate when `rate` is given."""

    def __init__(self, measured=None, rate=None):
        self.measured, self.rate, self._flops = measured or {}, rate, {}

    def fwd(self, arch, size):
        if (arch, size) not in self._flops:
            self._flops[(arch, size)] = forward_flops(arch, size)
        return self._flops[(arch, size)]

    def __call__(self, arch, size):
        if self.rate:
            f = self.fwd(arch, size) / self.rate
            return 3 * f, 2 * f, f
        family = arch.split(":")[0]
        known = [(a, s) for a, s in self.measured if a.split(":")[0] == family]
        if not known:
            raise ValueError(f"the benchmark has no row for model.arch {arch!r}; run scripts/benchmark.py "
                             f"--models with a case of that architecture (cases: {sorted(bench.CASES)})")
        base = min(known, key=lambda k: (k[0] != arch, abs(k[1] - size)))
        scale = self.fwd(arch, size) / self.fwd(*base)
        return tuple(scale * c for c in self.measured[base])


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


def project(configfile, price, targets=None):
    """One row per target (default: every figure and table of `all`, then `all` itself):
    GPU jobs, GPU-hours, the largest job."""
    runs = {}
    if targets is None:  # the figures are the plot jobs of `all`, whose dry run is kept for its own row
        runs["all"] = dry_run_jobs("all", configfile)
        targets = [argv[argv.index("--out") + 1] for script, _, argv in runs["all"] if script == "plot"] + ["all"]
    rows = []
    for target in targets:
        jobs = [(s, spec) for s, spec, _ in runs.get(target) or dry_run_jobs(target, configfile) if spec is not None]
        seconds = [job_seconds(s, spec, price) for s, spec in jobs]
        rows.append({"target": target, "gpu_jobs": sum(1 for t in seconds if t > 0),
                     "gpu_hours": sum(seconds) / 3600, "largest_job_gpu_hours": max(seconds, default=0) / 3600})
    return pd.DataFrame(rows)
