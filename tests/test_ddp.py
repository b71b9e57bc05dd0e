"""Multi-GPU IMP rounds run under torchrun with DistributedDataParallel; tested on CPU with the
gloo backend and two processes: the masks equal the single-process run on the same data, and a
run pre-empted (SIGTERM) in the middle of an epoch and started again equals an uninterrupted one."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.models import pretrained as weights
from sparserobust.models import registry as models
from sparserobust.pipeline import config, jobs, stages

from conftest import ROOT

TORCHRUN = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2"]
# float64: the runs sum in different orders; in float32 that noise, amplified by training,
# moves a few weights across the pruning threshold (semantics equal, the last bits not)
ENV = {**os.environ, "SPARSEROBUST_FLOAT64": "1"}
TERM_EPOCH, TERM_BATCH = 1, 2  # of 2 epochs of 4 batches (512 images in batches of 128)

# make_ticket.py, but at (TERM_EPOCH, TERM_BATCH) the first process sends SIGTERM to torchrun, which
# passes it on to both processes (like SLURM's pre-emption, to every process of the job), and to itself
INTERRUPTED = f"""
import os, runpy, signal, sys
script = {str(ROOT / "scripts" / "make_ticket.py")!r}
sys.path.insert(0, os.path.dirname(script))
import _path  # noqa: F401
from sparserobust.training import engine
epochs, train_epoch = [], engine.train_epoch

def interrupted(model, train, ctx, resume=None, on_step=None):
    epochs.append(resume)
    def step(i, sums):
        if len(epochs) == {TERM_EPOCH} and i == {TERM_BATCH} and os.environ["RANK"] == "0":
            os.kill(os.getppid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        on_step(i, sums)
    return train_epoch(model, train, ctx, resume, step)

engine.train_epoch = interrupted
sys.argv[0] = script
runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """(folder, make_ticket.py's arguments but --out, the uninterrupted two-process run's output)."""
    tmp = tmp_path_factory.mktemp("ddp")
    cfg = config.load(ROOT / "config" / "demo.yaml")
    cfg["datasets"]["demo_source"].update(train_size=512, val_size=100, test_size=100)
    cfg["imp"]["retrain"].update(epochs=2, batch_size=128, lr=0.05)
    torch.manual_seed(0)
    net = models.build(cfg["model"]["arch"], cfg["model"]["source_classes"])
    w = tmp / "w.pt"
    weights.save_canonical(net.state_dict(), w, {"format": "torchvision"}, None, "pretrain.standard")
    ones = tmp / "round0.pt"
    stages.make_ticket(jobs.ticket(cfg, "standard", "dense", 0), w, None, ones, print)
    r1 = tmp / "round1.pt"
    stages.make_ticket(jobs.ticket(cfg, "standard", "imp_st", 1), w, ones, r1, print)
    spec = jobs.ticket(cfg, "standard", "imp_st", 2)
    spec["device"] = "cpu"
    args = ["--spec", json.dumps(spec), "--weights", str(w), "--previous", str(r1)]
    ddp = subprocess.run([*TORCHRUN, str(ROOT / "scripts" / "make_ticket.py"), *args, "--out", str(tmp / "ddp.pt")],
                         capture_output=True, text=True, timeout=300, env=ENV)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    return tmp, args, tmp / "ddp.pt"


def history(path):
    return provenance.load_torch(path)["provenance"]["retrain_history"]


def test_two_process_ddp_imp_round_gives_the_single_process_mask(job):
    tmp, args, ddp = job
    single = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_ticket.py"), *args, "--out",
                             str(tmp / "single.pt")], capture_output=True, text=True, timeout=300, env=ENV)
    assert single.returncode == 0, single.stderr
    a, b = masks.load(tmp / "single.pt"), masks.load(ddp)
    assert set(a) == set(b)
    differ = sum(int((a[n] != b[n]).sum()) for n in a)
    assert differ == 0, f"{differ} mask entries differ"
    h1, h2 = history(tmp / "single.pt"), history(ddp)
    assert abs(h1[-1]["train_loss"] - h2[-1]["train_loss"]) < 1e-9  # the same training, shared out


def test_two_process_run_preempted_mid_epoch_resumes_to_the_uninterrupted_run(job):
    tmp, args, ddp = job
    script = tmp / "interrupted.py"
    script.write_text(INTERRUPTED)
    out = tmp / "preempted.pt"
    stopped = subprocess.run([*TORCHRUN, str(script), *args, "--out", str(out)], capture_output=True, text=True,
                             timeout=300, env=ENV)
    assert stopped.returncode != 0 and not out.exists(), stopped.stderr[-3000:]
    state = provenance.load_torch(f"{out}.resume")
    # both processes stopped at the step where the first one saw the signal, each with its own sums
    assert (state["epoch"], state["batch"]) == (TERM_EPOCH - 1, TERM_BATCH), stopped.stderr[-3000:]
    assert [s[2] for s in state["sums"]] == [TERM_BATCH * 64] * 2  # images seen by each process
    done = subprocess.run([*TORCHRUN, str(ROOT / "scripts" / "make_ticket.py"), *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming from" in done.stderr + done.stdout
    assert not Path(f"{out}.resume").exists()
    want, got = history(ddp), history(out)
    assert [h["epoch"] for h in got] == [1, 2]
    for a, b in zip(want, got, strict=True):
        assert a.keys() == b.keys()
        for k in a.keys() - {"seconds"}:
            assert abs(a[k] - b[k]) < 1e-9, (a["epoch"], k, a[k], b[k])
    a, b = masks.load(ddp), masks.load(out)
    assert set(a) == set(b) and all(torch.equal(a[n], b[n]) for n in a)
