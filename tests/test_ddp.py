"""Multi-GPU IMP rounds run under torchrun with DistributedDataParallel; tested on CPU with the
gloo backend and two processes: the masks equal the single-process run on the same data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from sparserobust.lottery import masks
from sparserobust.models import pretrained as weights
from sparserobust.models import registry as models
from sparserobust.pipeline import config, jobs, stages

from conftest import ROOT


def test_two_process_ddp_imp_round_gives_the_single_process_mask(tmp_path):
    cfg = config.load(ROOT / "config" / "demo.yaml")
    cfg["datasets"]["demo_source"].update(train_size=1024, val_size=100, test_size=100)
    cfg["imp"]["retrain"].update(epochs=2, batch_size=128, lr=0.05)
    torch.manual_seed(0)
    net = models.build(cfg["model"]["arch"], cfg["model"]["source_classes"])
    w = tmp_path / "w.pt"
    weights.save_canonical(net.state_dict(), w, {"format": "torchvision"}, None, "pretrain.standard")
    ones = tmp_path / "round0.pt"
    stages.make_ticket(jobs.ticket(cfg, "standard", "dense", 0), w, None, ones, print)
    r1 = tmp_path / "round1.pt"
    stages.make_ticket(jobs.ticket(cfg, "standard", "imp_st", 1), w, ones, r1, print)
    spec = jobs.ticket(cfg, "standard", "imp_st", 2)
    spec["device"] = "cpu"
    # float64: the two runs sum in different orders; in float32 that noise, amplified by training,
    # moves a few weights across the pruning threshold (semantics equal, the last bits not)
    env = {**os.environ, "SPARSEROBUST_FLOAT64": "1"}
    args = [str(ROOT / "scripts" / "make_ticket.py"), "--spec", json.dumps(spec), "--weights", str(w),
            "--previous", str(r1)]
    single = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "single.pt")], capture_output=True,
                            text=True, timeout=300, env=env)
    assert single.returncode == 0, single.stderr
    torchrun = Path(sys.executable).with_name("torchrun")
    ddp = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", *args, "--out",
                          str(tmp_path / "ddp.pt")], capture_output=True, text=True, timeout=300, env=env)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = masks.load(tmp_path / "single.pt"), masks.load(tmp_path / "ddp.pt")
    assert set(a) == set(b)
    differ = sum(int((a[n] != b[n]).sum()) for n in a)
    assert differ == 0, f"{differ} mask entries differ"
    from sparserobust.foundations import provenance

    h1 = provenance.load_torch(tmp_path / "single.pt")["provenance"]["retrain_history"]
    h2 = provenance.load_torch(tmp_path / "ddp.pt")["provenance"]["retrain_history"]
    assert abs(h1[-1]["train_loss"] - h2[-1]["train_loss"]) < 1e-9  # the same training, shared out
