"""The startup-share report: the jobs' own timer lines and Snakemake's benchmark files, read exactly."""

import subprocess
import sys

import pytest

from sparserobust.foundations import timing
from sparserobust.performance import startup

from conftest import ROOT

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def job(results, rel, wall, log_text):
    bench = results / "benchmarks" / f"{rel}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(HEADER + f"{wall}\t0:00:0{int(wall)}\t1\t1\t1\t1\t0\t0\t90\t{wall}\n")
    log = results / "logs" / f"{rel}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(log_text)


@pytest.fixture
def results(tmp_path):
    r = tmp_path / "results"
    job(r, "transfer/standard/dense/round0/d/full/adversarial/seed0", 8.0,
        "epoch=1\ntiming: first_step_at_s=2.000 main_at_s=1.500 end_at_s=7.600\n")
    job(r, "transfer/standard/dense/round0/d/full/standard/seed0", 4.0,
        "timing: first_step_at_s=2.000 main_at_s=1.900 end_at_s=3.700\n")
    job(r, "plot/fig3", 3.0, "timing: main_at_s=2.500 end_at_s=2.900\n")
    job(r, "ticket/standard/omp/round1", 2.0, "error: a job that failed writes no timing line\n")
    return r


def test_timing_line_round_trips_and_counts_from_the_process_start(monkeypatch):
    monkeypatch.setattr(timing, "_MARKS", {})  # this test process's own marks
    timing.mark("main")
    timing.first_step()
    marks = timing.parse("epoch=1 x=2\n" + timing.line() + "\n")
    assert set(marks) == {"main", "first_step", "end"}
    assert 0 < marks["main"] <= marks["first_step"] <= marks["end"]
    assert timing.parse("no timer here") == {}


def test_a_fresh_process_knows_its_age():
    """A process that sleeps 0.3 s before its mark reports an age of at least that."""
    src = str(ROOT / "src")
    code = (f"import time, sys; sys.path.insert(0, {src!r}); time.sleep(0.3); "
            "from sparserobust.foundations import timing; print(timing.age())")
    age = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
    assert 0.3 <= age < 10


def test_records_and_summary_are_exact(results):
    records = {r["job"]: r for r in startup.jobs(results)}
    assert len(records) == 3  # the job without a timing line is left out
    adv = records["transfer/standard/dense/round0/d/full/adversarial/seed0"]
    assert adv["trains"] and adv["before_s"] == pytest.approx(2.0) and adv["group"] == "transfer/adversarial"
    plot = records["plot/fig3"]
    assert not plot["trains"] and plot["before_s"] == pytest.approx(2.5)  # no training step: from main
    rows = {r["group"]: r for r in startup.summary(records.values())}
    assert rows["transfer/standard"]["share_max"] == pytest.approx(0.5)
    assert rows["transfer/adversarial"]["share_mean"] == pytest.approx(0.25)
    assert [r["job"] for r in startup.worst(records.values(), 0.25)] == [
        "transfer/standard/dense/round0/d/full/standard/seed0"]


def test_script_fails_above_the_limit_and_names_the_job(results, tmp_path):
    run = [sys.executable, str(ROOT / "scripts" / "startup_share.py"), str(results)]
    out = subprocess.run(run, capture_output=True, text=True)
    assert out.returncode == 1 and "full/standard/seed0: 2.00 of 4.00 s (50%)" in out.stdout
    assert subprocess.run([*run, "--limit", "0.5"], capture_output=True, text=True).returncode == 0
    empty = subprocess.run([sys.executable, str(ROOT / "scripts" / "startup_share.py"), str(tmp_path / "none")],
                           capture_output=True, text=True)
    assert empty.returncode == 1 and "run the workflow first" in empty.stderr
