"""What a training step costs per image on the GPU a projection prices for: the rates measured by
scripts/benchmark.py on a GPU (its CSVs), or, until a GPU has measured this engine, two rates
anchored in published ResNet-50 training throughputs (ANCHORS), as a range."""

import dataclasses
import functools
import re
from pathlib import Path

import pandas as pd

from ..models import flops
from ..models import registry as models
from . import bench

ROOT = Path(__file__).resolve().parents[3]  # the repository
BENCHMARKS = ROOT / "results" / "benchmark"  # where the benchmark rule writes <host>.csv
ANCHOR_ARCH, ANCHOR_SIZE = "resnet50", 224


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A published ResNet-50 (v1.5, 224 px) training throughput per GPU, the rate one end of the
    anchored range assumes for every job (see anchor_rate)."""

    label: str
    images_per_s: float
    device: str
    source: str


# Until scripts/benchmark.py has run on a GPU, jobs are priced at two published rates.
# - optimistic: MLPerf Training v3.0 (closed division, 2023), NVIDIA's submission on one DGX H100
#   (8x H100-SXM5-80GB, MXNet + DALI, hand-tuned kernels): ResNet-50 v1.5 to 75.9 % top-1 in 35
#   epochs, 816 s from run_start to run_stop, 56,000 images/s in every epoch after the first
#   (mlcommons/training_results_v3.0, NVIDIA/results/dgxh100_ngc23.04_mxnet/resnet/result_0.txt).
#   The round's best 8x H100 time, 13.466 min (Dell XE9680, MLPerf ID 3.0-2053, listed at
#   https://developer.nvidia.com/deep-learning-performance-training-inference/training), is about the
#   same rate: 35 x 1,281,167 images / 808 s = 55,500 images/s if it too took 35 epochs.
#   Per GPU: 7,000 images/s.
# - likely: NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md,
#   "Training performance: NVIDIA DGX A100 (8x A100 80GB)", 1 GPU, mixed precision (AMP):
#   2,470 images/s (pytorch-21.03 NGC container), NVIDIA's own tuned PyTorch recipe on an A100.
#   Taken as the rate of plain PyTorch AMP on an A100- or H100-class GPU: an H100 speeds convolution
#   training far less than its 3.2x peak over an A100 (the hand-tuned H100 above reaches 2.8x this).
# Each is turned into FLOP/s with this module's count of one ResNet-50 training step at 224 px
# (3 forward passes' FLOPs: 24.5 GFLOP per image) and applied to every job through its FLOP count.
# ASSUMED: that other architectures, input sizes and batch sizes reach the same FLOP/s as ResNet-50
# at 224 px. An attack step (forward + input-gradient backward) runs the same convolutions as a
# training step, so PGD passes are priced at the same rate.
ANCHORS = (
    Anchor("optimistic", 56_000 / 8, "8x H100-SXM5-80GB", "MLPerf Training v3.0, DGX H100, MXNet + DALI"),
    Anchor("likely", 2_470, "1x A100-80GB", "NVIDIA DeepLearningExamples ResNet50 v1.5, PyTorch AMP"),
)


def anchor_rate(anchor):
    """FLOP/s of an anchor: its images/s x the FLOPs of one ResNet-50 training step at 224 px."""
    return anchor.images_per_s * 3 * forward_flops(ANCHOR_ARCH, ANCHOR_SIZE)


@functools.cache
def forward_flops(arch, size, classes=10):
    """FLOPs of one forward pass of `arch` at `size` px (torch's FLOP counter), counted once."""
    return flops.dense_layer_flops(models.build(arch, classes), (3, size, size))[1]


def on_gpu(devices):
    """Per row: whether scripts/benchmark.py measured it on a CUDA GPU (bench.device_name names a
    CPU "CPU (...)" and a GPU by its CUDA name)."""
    return ~devices.astype(str).str.startswith("CPU")


def gpu_benchmarks(folder=BENCHMARKS):
    """The benchmark CSVs (scripts/benchmark.py --out) in `folder` with a row measured on a GPU."""
    found = []
    for csv in sorted(Path(folder).glob("*.csv")):
        try:
            table = pd.read_csv(csv)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            continue
        if {"model", "step", "engine_img_s", "device"} <= set(table.columns) and on_gpu(table.device).any():
            found.append(csv)
    return found


def anchored_rates(folder=BENCHMARKS):
    """({label: Pricer} of ANCHORS, lines saying so)."""
    where = Path(folder).relative_to(ROOT) if Path(folder).is_relative_to(ROOT) else folder
    lines = [f"rates: ANCHORED, no GPU benchmark in {where} used (scripts/benchmark.py on a GPU replaces them)"]
    for a in ANCHORS:
        rate = anchor_rate(a)
        lines += [f"  {a.label}: {a.images_per_s:,.0f} ResNet-50 training images/s at {ANCHOR_SIZE} px per GPU = "
                  f"{rate / 1e12:.1f} TFLOP/s ({rate / bench.PEAK_BF16['H100']:.1%} of an H100's dense bf16 peak)",
                  f"    {a.source}, {a.device}"]
    return {a.label: Pricer(rate=anchor_rate(a)) for a in ANCHORS}, lines


def measured_rates(csvs):
    """({"measured": Pricer}, lines saying so) from benchmark CSVs: their GPU rows, or all rows when
    none has one (a CPU measurement asked for by name). Rates of several devices are refused."""
    tables = {Path(c): pd.read_csv(c) for c in csvs}
    gpu = {c: t[on_gpu(t.device)] for c, t in tables.items() if "device" in t and on_gpu(t.device).any()}
    chosen = gpu or tables
    devices = sorted({str(d) for t in chosen.values() for d in t.get("device", pd.Series(["an unnamed device"]))})
    if len(devices) > 1:
        raise ValueError(f"benchmark CSVs {[str(c) for c in chosen]} were measured on several devices {devices}: "
                         "name one file with --measured, or project with --anchored")
    costs = {}
    for csv, table in chosen.items():
        costs |= measured_costs(table, csv)
    return {"measured": Pricer(measured=costs)}, [f"rates: MEASURED on {devices[0]} ({', '.join(map(str, chosen))})"]


def rates(measured=None, folder=BENCHMARKS, anchored=False):
    """The rates a projection uses: those measured in the CSVs `measured`; else those of the GPU
    benchmark CSVs in `folder`; else (or when `anchored`) the anchored range."""
    csvs = [] if anchored else measured or gpu_benchmarks(folder)
    return measured_rates(csvs) if csvs else anchored_rates(folder)


def measured_costs(csv, name=None):
    """{(arch, size): (a, b, f)} seconds per image, from a benchmark CSV's standard and PGD rows
    (`csv`: its path, or its table read already, then `name` its path for messages)."""
    table = csv if isinstance(csv, pd.DataFrame) else pd.read_csv(csv)
    csv = name or csv
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
    width and size; or FLOPs / `rate` (FLOP/s, e.g. anchor_rate of ANCHORS) when `rate` is given."""

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
                             f"--models with a case of that architecture (cases: {sorted(bench.CASES)}), "
                             "or project with --anchored")
        base = min(known, key=lambda k: (k[0] != arch, abs(k[1] - size)))
        scale = self.fwd(arch, size) / self.fwd(*base)
        return tuple(scale * c for c in self.measured[base])
