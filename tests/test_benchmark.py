"""The benchmark script measures and prints a table; the GPU-hour projection prices jobs exactly."""

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from sparserobust.performance import projection, rates

from conftest import ROOT, snakemake


@pytest.fixture(scope="module")
def bench_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "cpu.csv"
    run = subprocess.run([sys.executable, "scripts/benchmark.py", "--models", "demo", "preact_resnet18", "--batch", "128",
                          "2", "--steps", "2", "--repeats", "1", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "device: CPU" in run.stdout and "ratio" in run.stdout
    return out


def test_benchmark_table_has_both_steps_and_sane_numbers(bench_csv):
    table = pd.read_csv(bench_csv)
    assert list(table.model) == ["demo", "demo", "preact_resnet18", "preact_resnet18"]
    table = table[table.model == "demo"]
    assert list(table.step) == ["standard", "PGD-10 AT"]
    assert (table.engine_img_s > 0).all() and (table.reference_img_s > 0).all()
    assert (table.ratio == table.engine_img_s / table.reference_img_s).all() or \
        ((table.ratio - table.engine_img_s / table.reference_img_s).abs() < 1e-6).all()
    # an adversarial step is 11 passes: clearly slower than a standard one
    assert table.engine_img_s[1] < table.engine_img_s[0] / 2
    assert (table.tflop_s > 0).all() and (table.mask_overhead_pct > 0).all()
    assert table.device[0].startswith("CPU") and table.torch[0].startswith("2.")


def test_width_variant_priced_from_its_family_by_flops():
    price = rates.Pricer(measured={("preact_resnet18", 32): (3.0, 2.0, 1.0)})
    ratio = rates.forward_flops("preact_resnet18:0.25", 32) / rates.forward_flops("preact_resnet18", 32)
    assert 0.03 < ratio < 0.15  # a quarter of the width: about 1/16 of the FLOPs
    assert price("preact_resnet18:0.25", 32) == pytest.approx((3 * ratio, 2 * ratio, ratio))


def test_projection_rule_for_the_demo_config(bench_csv):
    """The projection is a file target of its own: results/benchmark/HOST.gpu_hours.CONFIG.csv."""
    host = f"pytest{os.getpid()}"
    folder = ROOT / "results" / "benchmark"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(bench_csv, folder / f"{host}.csv")
    target = folder / f"{host}.gpu_hours.demo.csv"
    try:
        run = snakemake("--cores", "1", "--configfile=config/demo.yaml", "--", str(target.relative_to(ROOT)),
                        timeout=900)
        assert run.returncode == 0, run.stderr[-3000:]
        table = pd.read_csv(target)
        assert "all" in set(table.target) and "figures/demo/fig3.pdf" in set(table.target)
        assert (table.gpu_hours > 0).all()
        assert float(table.gpu_hours[table.target == "all"].iloc[0]) >= table.gpu_hours.max() - 1e-9
    finally:
        for f in folder.glob(f"{host}*"):
            f.unlink()


def test_measured_costs_from_rates(tmp_path):
    csv = tmp_path / "b.csv"
    pd.DataFrame([{"model": "demo", "step": "standard", "engine_img_s": 100.0},
                  {"model": "demo", "step": "PGD-10 AT", "engine_img_s": 10.0}]).to_csv(csv, index=False)
    (a, b, f), = rates.measured_costs(csv).values()
    assert a == pytest.approx(0.01) and b == pytest.approx(0.009) and f == pytest.approx(0.01 / 3)


def test_job_seconds_by_hand():
    price = rates.Pricer(measured={("resnet50", 224): (3.0, 2.0, 1.0)})
    spec = {"arch": "resnet50", "fraction": 0.1,
            "dataset": {"kind": "torchvision", "name": "cifar10", "train_size": 1000, "val_size": 50},
            "train": {"epochs": 2, "select": "ra", "augment": {"kind": "random_resized_crop", "size": 224},
                      "train_attack": {"steps": 10}, "eval_attack": {"steps": 20}},
            "transfer_attack": {"steps": 20}}
    # 2 epochs x (100 images x (3 + 10 x 2) + 50 val x (1 + 1 + 20 x 2)) + 10,000 test x 42 + 10,000 x (1 + 40)
    expected = 2 * (100 * 23 + 50 * 42) + 10_000 * 42 + 10_000 * 41
    assert projection.job_seconds("transfer", spec, price) == pytest.approx(expected)
    ticket = {"arch": "resnet50", "pruner": "imp_st", "round": 3, "source": {"kind": "imagefolder"},
              "retrain": {"epochs": 1, "select": "last"}}
    assert projection.job_seconds("make_ticket", ticket, price) == pytest.approx(3.0 * projection.IMAGENET_TRAIN)
    assert projection.job_seconds("make_ticket", {**ticket, "round": 1}, price) == 0  # round 1 prunes, no training
    assert projection.job_seconds("plot", None, price) == 0


def test_unbenchmarked_architecture_is_named():
    with pytest.raises(ValueError, match="wrn34_10"):
        rates.Pricer(measured={("resnet50", 224): (3.0, 2.0, 1.0)})("wrn34_10", 32)


def test_projection_of_the_demo_config_from_the_measured_csv(bench_csv):
    table = projection.project(str(ROOT / "config" / "demo.yaml"), rates.Pricer(rates.measured_costs(bench_csv)),
                               ["figures/demo/fig3.pdf", "figures/demo/fig5.pdf"])
    assert (table.gpu_jobs > 10).all() and (table.gpu_hours > 0).all()
    assert (table.largest_job_gpu_hours <= table.gpu_hours).all()
