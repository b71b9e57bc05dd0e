"""Resume: a training job killed with SIGKILL, or pre-empted with SIGTERM, and started again
ends with the same metrics as an uninterrupted run; corrupt state is refused."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.models import pretrained as weights
from sparserobust.pipeline import config, jobs

from conftest import ROOT, dense_ticket_files, flip_tensor_byte


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    cfg = config.load(ROOT / "config" / "demo.yaml")
    cfg["transfer"]["regimes"]["adversarial"]["epochs"] = 4
    spec = jobs.transfer(cfg, "standard", "dense", 0, "demo_cifar10", "full", "adversarial", 0)
    spec.pop("transfer_attack")
    spec["device"] = "cpu"
    dense_ticket_files(tmp, cfg)
    return tmp, spec


def command(tmp, spec, out):
    return [sys.executable, str(ROOT / "scripts" / "transfer.py"), "--spec", json.dumps(spec), "--weights",
            str(tmp / "w.pt"), "--ticket", str(tmp / "t.pt"), "--out", str(out)]


def metrics(path):
    rec = json.loads(Path(path).read_text())
    hist = [{k: v for k, v in h.items() if k != "seconds"} for h in rec["history"]]
    return rec["test_sa"], rec["test_ra"], rec["best_epoch"], hist


def wait_for(predicate, proc, limit=120):
    start = time.time()
    while not predicate():
        assert proc.poll() is None, "the job ended before it could be interrupted"
        assert time.time() - start < limit
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(job):
    tmp, spec = job
    out = tmp / "reference.json"
    subprocess.run(command(tmp, spec, out), check=True, capture_output=True, timeout=300)
    assert not Path(f"{out}.resume").exists()  # the state is removed once the output is written
    return metrics(out)


def test_sigkill_then_restart_gives_the_same_metrics(job, reference):
    tmp, spec = job
    spec = {**spec, "engine": {**spec["engine"], "checkpoint_minutes": 0}}  # a save after every epoch to kill at
    out = tmp / "killed.json"
    resume = Path(f"{out}.resume")
    proc = subprocess.Popen(command(tmp, spec, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(resume.exists, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and resume.exists()
    state = provenance.load_torch(resume)
    assert 1 <= state["epoch"] < 4
    done = subprocess.run(command(tmp, spec, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming from" in done.stdout
    assert metrics(out) == reference


def test_sigterm_saves_mid_epoch_and_restart_gives_the_same_metrics(job, reference):
    tmp, spec = job
    out = tmp / "preempted.json"
    log = tmp / "preempted.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(command(tmp, spec, out), stdout=handle, stderr=subprocess.STDOUT)
        wait_for(lambda: "epoch=2" in log.read_text(), proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143
    state = provenance.load_torch(f"{out}.resume")
    assert state["batch"] > 0  # saved in the middle of an epoch
    done = subprocess.run(command(tmp, spec, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert metrics(out) == reference


def test_corrupt_or_truncated_files_are_refused(job, tmp_path):
    tmp, _ = job
    good = (tmp / "t.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="checksum"):
        masks.load(cut)
    bad = flip_tensor_byte(tmp / "t.pt", tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="corrupt"):
        weights.load_canonical(bad)
    plain = tmp_path / "plain.pt"
    torch.save({"mask": {}}, plain)
    with pytest.raises(ValueError, match="not a checksummed file"):
        masks.load(plain)


def test_trajectory_killed_mid_run_resumes_to_the_same_checkpoints(job):
    """Fig. 6's trajectory keeps a checkpoint every epoch; killed with SIGKILL after a few and started again,
    it writes the same list of checkpoints (the kept ones come back from the saved state) as a whole run."""
    tmp, _ = job
    cfg = config.load(ROOT / "config" / "demo.yaml")
    cfg["analysis"]["fig6"]["train"]["epochs"] = 5
    spec = jobs.trajectory(cfg, "standard")
    spec["device"] = "cpu"
    spec["engine"] = {**spec["engine"], "checkpoint_minutes": 0}

    def run(out, **kw):
        cmd = [sys.executable, str(ROOT / "scripts" / "trajectory.py"), "--spec", json.dumps(spec), "--weights",
               str(tmp / "w.pt"), "--ticket", str(tmp / "t.pt"), "--out", str(out)]
        return subprocess.Popen(cmd, **kw)

    whole = tmp / "whole.pt"
    assert run(whole, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait(timeout=300) == 0
    out, log = tmp / "trajectory.pt", tmp / "trajectory.log"
    with open(log, "w") as handle:
        proc = run(out, stdout=handle, stderr=subprocess.STDOUT)
        wait_for(lambda: "epoch=3" in log.read_text(), proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    saved = provenance.load_torch(f"{out}.resume")
    assert 1 <= saved["epoch"] < 5 and len(saved["extra"]) == saved["epoch"] + 1  # the start and one per epoch
    with open(log, "a") as handle:
        assert run(out, stdout=handle, stderr=subprocess.STDOUT).wait(timeout=300) == 0
    assert "resuming from" in log.read_text()
    a, b = provenance.load_torch(whole), provenance.load_torch(out)
    assert len(a["states"]) == len(b["states"]) == 6
    for x, y in zip(a["states"], b["states"], strict=True):
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    drop = {"seconds"}
    assert [{k: v for k, v in h.items() if k not in drop} for h in a["history"]] == \
           [{k: v for k, v in h.items() if k not in drop} for h in b["history"]]
