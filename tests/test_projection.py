"""The GPU-hour projection: the anchored range follows from its published throughputs, and a
benchmark CSV measured on a GPU replaces it (one measured on a CPU does not)."""

import subprocess
import sys

import pandas as pd
import pytest

from sparserobust.performance import bench, projection, rates

from conftest import ROOT

TICKET = {"arch": "resnet50", "pruner": "imp_st", "round": 2, "source": {"kind": "imagefolder"},
          "retrain": {"epochs": 1, "select": "last"}}
TRANSFER = {"arch": "resnet50", "dataset": {"kind": "torchvision", "name": "cifar10", "train_size": 100, "val_size": 10,
                                             "test_size": 20},
            "train": {"epochs": 2, "select": "ra", "augment": {"kind": "random_resized_crop", "size": 224},
                      "train_attack": {"steps": 10}, "eval_attack": {"steps": 20}}}


def test_anchors_are_the_published_throughputs_as_fractions_of_peak():
    optimistic, likely = rates.ANCHORS
    assert (optimistic.label, likely.label) == ("optimistic", "likely")
    assert optimistic.images_per_s == 7000 and likely.images_per_s == 2470
    # a ResNet-50 training step at 224 px is 3 forward passes of 8.17 GFLOP
    assert rates.anchor_rate(optimistic) == pytest.approx(7000 * 3 * 8.174e9, rel=1e-3)
    peak = bench.PEAK_BF16["H100"]
    assert 0.15 < rates.anchor_rate(optimistic) / peak < 0.20  # MLPerf's hand-tuned H100: 15-20 % of peak
    assert rates.anchor_rate(likely) < rates.anchor_rate(optimistic)


def test_anchored_range_is_ordered_and_follows_from_the_anchors():
    prices, lines = rates.anchored_rates()
    assert list(prices) == ["optimistic", "likely"] and "ANCHORED" in lines[0]
    jobs = {"figures/x.pdf": [("transfer", TRANSFER), ("plot", None)], "all": [("make_ticket", TICKET), ("transfer", TRANSFER)]}
    table = projection.price_jobs(jobs, prices).set_index("target")
    assert list(table.gpu_jobs) == [1, 2]
    for anchor in rates.ANCHORS:
        n = anchor.images_per_s  # ResNet-50 at 224 px: a training step 1/n s, an attack step 2/3n, a forward 1/3n
        a, b, f = 1 / n, 2 / (3 * n), 1 / (3 * n)
        transfer = 2 * (100 * (a + 10 * b) + 10 * (2 * f + 20 * b)) + 20 * (2 * f + 20 * b)
        ticket = projection.IMAGENET_TRAIN * a
        assert table.loc["figures/x.pdf", f"gpu_hours_{anchor.label}"] == pytest.approx(transfer / 3600)
        assert table.loc["all", f"gpu_hours_{anchor.label}"] == pytest.approx((ticket + transfer) / 3600)
        assert table.loc["all", f"largest_job_gpu_hours_{anchor.label}"] == pytest.approx(ticket / 3600)
    assert (table.gpu_hours_optimistic < table.gpu_hours_likely).all()


def bench_csv(path, device, img_s=(5000.0, 500.0)):
    rows = [{"model": "resnet50", "step": step, "engine_img_s": rate, "tflop_s": 1.0, "device": device}
            for step, rate in zip(("standard", "PGD-10 AT"), img_s, strict=True)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_gpu_benchmark_replaces_the_anchors_and_a_cpu_one_does_not(tmp_path):
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    cpu.mkdir()
    gpu.mkdir()
    bench_csv(cpu / "laptop.csv", "CPU (x86_64, 2 threads)")
    assert list(rates.rates(folder=cpu)[0]) == ["optimistic", "likely"]
    bench_csv(gpu / "laptop.csv", "CPU (x86_64, 2 threads)", (50.0, 5.0))
    bench_csv(gpu / "node.csv", "NVIDIA H100 80GB HBM3")
    pd.DataFrame([{"target": "all", "gpu_hours": 1.0}]).to_csv(gpu / "node.gpu_hours.paper.csv", index=False)
    assert rates.gpu_benchmarks(gpu) == [gpu / "node.csv"]
    prices, lines = rates.rates(folder=gpu)
    assert list(prices) == ["measured"] and "MEASURED on NVIDIA H100 80GB HBM3" in lines[0]
    assert prices["measured"]("resnet50", 224) == pytest.approx((1 / 5000, (1 / 500 - 1 / 5000) / 10, 1 / 15000))
    assert list(rates.rates(folder=gpu, anchored=True)[0]) == ["optimistic", "likely"]
    named_cpu = rates.rates([cpu / "laptop.csv"])[0]["measured"]  # a CPU file named explicitly is used
    assert named_cpu("resnet50", 224)[0] == pytest.approx(1 / 5000)
    bench_csv(gpu / "other.csv", "NVIDIA A100-SXM4-80GB")
    with pytest.raises(ValueError, match="several devices.*--measured"):
        rates.rates(folder=gpu)


def test_script_prints_both_columns_and_names_its_rates(tmp_path):
    out = tmp_path / "demo.csv"
    run = subprocess.run([sys.executable, "scripts/project_gpu_hours.py", "--configfile", "config/demo.yaml",
                          "--anchored", "--targets", "all", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rates: ANCHORED" in run.stdout and "MLPerf Training v3.0" in run.stdout
    assert "DeepLearningExamples" in run.stdout
    table = pd.read_csv(out)
    assert list(table.target) == ["all"] and (table.gpu_hours_optimistic < table.gpu_hours_likely).all()
