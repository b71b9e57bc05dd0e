"""GPU slots (gpus.py, scripts/launch.py) and device choice (devices.py), all without a GPU.

The launcher is run through Snakemake itself with SPARSEROBUST_GPUS standing in for real GPUs:
concurrent jobs must get different ids, and a crashed job must not keep its slot."""

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from sparserobust.foundations import devices, gpus

from conftest import ROOT, snakemake

LAUNCH = ROOT / "scripts" / "launch.py"

RECORD = """
import json, os, sys, time
start = time.time()
time.sleep(1)
if os.environ.get("RANK", "0") == "0":
    keys = ("CUDA_VISIBLE_DEVICES", "SPARSEROBUST_GPU_ASSIGNED", "WORLD_SIZE")
    rec = {k: os.environ.get(k) for k in keys}
    rec.update(start=start, end=time.time(), gpu=int(sys.argv[2]))
    with open(sys.argv[1], "w") as f:
        json.dump(rec, f)
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", gpus.ASSIGNED, gpus.OVERRIDE)}
    return {**env, **extra}


# --- visible() ---------------------------------------------------------------------------------

def test_visible_override_wins():
    assert gpus.visible({"SPARSEROBUST_GPUS": "0,1, 3", "CUDA_VISIBLE_DEVICES": "5"}) == ["0", "1", "3"]
    assert gpus.visible({"SPARSEROBUST_GPUS": ""}) == []
    assert gpus.visible({"SPARSEROBUST_GPUS": "none", "CUDA_VISIBLE_DEVICES": "0"}) == []


def test_visible_cuda_visible_devices():
    assert gpus.visible({"CUDA_VISIBLE_DEVICES": "2,3", "PATH": ""}) == ["2", "3"]
    assert gpus.visible({"CUDA_VISIBLE_DEVICES": "", "PATH": ""}) == []
    assert gpus.visible({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # CUDA stops at an invalid id
    assert gpus.visible({"CUDA_VISIBLE_DEVICES": "GPU-ab12,MIG-cd34"}) == ["GPU-ab12", "MIG-cd34"]


def test_visible_without_nvidia_smi(tmp_path):
    assert gpus.visible({"PATH": str(tmp_path)}) == []
    assert gpus.driver({"PATH": str(tmp_path)}) is None


def test_visible_from_nvidia_smi(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\ncase "$1" in --query-gpu=index) printf "0\\n1\\n";; *) echo 575.51.03;; esac\n')
    fake.chmod(0o755)
    assert gpus.visible({"PATH": str(tmp_path)}) == ["0", "1"]
    assert gpus.driver({"PATH": str(tmp_path)}) == "575.51.03"


def test_visible_without_nvidia_smi_counts_the_drivers_gpus(tmp_path):
    proc = tmp_path / "gpus"
    for bus in ("0000:01:00.0", "0000:02:00.0"):
        (proc / bus).mkdir(parents=True)
    env = {"PATH": str(tmp_path), "SPARSEROBUST_PROC_NVIDIA": str(proc)}
    assert gpus.visible(env) == ["0", "1"]
    assert gpus.visible({"PATH": str(tmp_path), "SPARSEROBUST_PROC_NVIDIA": str(tmp_path / "absent")}) == []


def test_under_slurm():
    assert gpus.under_slurm({"SLURM_JOB_ID": "42"})
    assert not gpus.under_slurm({})


# --- hold() --------------------------------------------------------------------------------------

def test_hold_waits_for_a_free_slot_and_clamps(tmp_path):
    env = {"SPARSEROBUST_GPUS": "0,1"}
    first = gpus.hold(1, tmp_path, env=env)
    second = gpus.hold(1, tmp_path, env=env)
    assert sorted(first.ids + second.ids) == ["0", "1"]
    threading.Timer(0.3, first.release).start()
    said = []
    with gpus.hold(1, tmp_path, said.append, env, poll=0.05) as third:
        assert third.ids == first.ids
    assert len([m for m in said if "waiting" in m]) == 1
    second.release()
    said.clear()
    with gpus.hold(5, tmp_path, said.append, env) as all_of_them:
        assert all_of_them.ids == ["0", "1"]
    assert "5 GPUs asked for, 2 visible" in said[0]


def test_crashed_job_frees_its_slot(tmp_path):
    crash = tmp_path / "crash.py"
    crash.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    env = clean_env(SPARSEROBUST_GPUS="0", SPARSEROBUST_GPU_LOCKS=str(tmp_path / "locks"))
    run = subprocess.run([sys.executable, str(LAUNCH), "--gpus", "1", "--", str(crash)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0 and "launch: GPUs 0" in run.stderr
    with gpus.hold(1, tmp_path / "locks", env={"SPARSEROBUST_GPUS": "0"}, poll=0.01) as held:
        assert held.ids == ["0"]


# --- launch.py through Snakemake --------------------------------------------------------------

def write_workflow(tmp_path):
    (tmp_path / "record.py").write_text(RECORD)
    shell = f"{sys.executable} {LAUNCH} --gpus {{resources.gpu}} -- {tmp_path}/record.py {{output}} {{resources.gpu}}"
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        rule single:
            output: "single{{i}}.json"
            resources: gpu=1
            shell: "{shell} 2> {{output}}.err"

        rule double:
            output: "double.json"
            resources: gpu=2
            shell: "{shell} 2> {{output}}.err"

        rule eight:
            output: "eight.json"
            resources: gpu=8
            shell: "{shell} 2> {{output}}.err"
        """))


def run_workflow(tmp_path, monkeypatch, gpu_env, targets):
    """Run the targets with --resources gpu=2; snakemake() hands os.environ to the jobs."""
    write_workflow(tmp_path)
    for k in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", gpus.ASSIGNED):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv(gpus.OVERRIDE, gpu_env)
    monkeypatch.setenv(gpus.LOCKS, str(tmp_path / "locks"))
    out = snakemake(*targets, "--cores", "4", "--resources", "gpu=2", "--quiet", "all", cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return {t: json.loads((tmp_path / t).read_text()) for t in targets}


def test_concurrent_jobs_get_their_own_gpus(tmp_path, monkeypatch):
    singles = [f"single{i}.json" for i in range(4)]
    rec = run_workflow(tmp_path, monkeypatch, "0,1", [*singles, "double.json", "eight.json"])
    for t in singles:
        assert rec[t]["CUDA_VISIBLE_DEVICES"] in ("0", "1")
        assert rec[t]["SPARSEROBUST_GPU_ASSIGNED"] == rec[t]["CUDA_VISIBLE_DEVICES"]
        assert rec[t]["WORLD_SIZE"] is None  # one process: plain python
    overlapping = [(a, b) for i, a in enumerate(singles) for b in singles[i + 1:]
                   if rec[a]["start"] < rec[b]["end"] and rec[b]["start"] < rec[a]["end"]]
    assert overlapping, "with gpu=2, two single-GPU jobs should have run at once"
    for a, b in overlapping:
        assert rec[a]["CUDA_VISIBLE_DEVICES"] != rec[b]["CUDA_VISIBLE_DEVICES"]
    for t in ("double.json", "eight.json"):
        assert rec[t]["CUDA_VISIBLE_DEVICES"] == "0,1" and rec[t]["WORLD_SIZE"] == "2"
    assert rec["eight.json"]["gpu"] == 2  # Snakemake caps {resources.gpu} at --resources gpu=2
    assert "launch: GPUs 0,1 (slots under" in (tmp_path / "double.json.err").read_text()


def test_no_gpu_assigns_nothing_and_runs_torchrun_on_cpu(tmp_path, monkeypatch):
    rec = run_workflow(tmp_path, monkeypatch, "none", ["single0.json", "double.json"])
    for t in ("single0.json", "double.json"):
        assert rec[t]["CUDA_VISIBLE_DEVICES"] is None and rec[t]["SPARSEROBUST_GPU_ASSIGNED"] is None
        assert "launch: no GPU on this machine" in (tmp_path / f"{t}.err").read_text()
    assert rec["single0.json"]["WORLD_SIZE"] is None
    assert rec["double.json"]["WORLD_SIZE"] == "2"


def launch_once(tmp_path, **env):
    (tmp_path / "record.py").write_text(RECORD)
    out = subprocess.run([sys.executable, str(LAUNCH), "--gpus", "1", "--lock-dir", str(tmp_path / "locks"), "--",
                          str(tmp_path / "record.py"), str(tmp_path / "rec.json"), "1"],
                         env=clean_env(**env), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads((tmp_path / "rec.json").read_text())


def test_a_slurm_job_keeps_slurms_devices_unless_slots_are_asked_for(tmp_path):
    rec = launch_once(tmp_path, SLURM_JOB_ID="7", CUDA_VISIBLE_DEVICES="3")
    assert rec["CUDA_VISIBLE_DEVICES"] == "3" and rec["SPARSEROBUST_GPU_ASSIGNED"] is None
    rec = launch_once(tmp_path, SLURM_JOB_ID="7", SPARSEROBUST_GPUS="2,3")  # local run inside salloc
    assert rec["CUDA_VISIBLE_DEVICES"] == "2" and rec["SPARSEROBUST_GPU_ASSIGNED"] == "2"


# --- devices.pick ----------------------------------------------------------------------------------

@pytest.fixture
def no_cuda(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    return {"PATH": str(tmp_path)}  # no nvidia-smi


def test_pick_cuda_without_gpu_says_why(no_cuda):
    with pytest.raises(devices.NoGPU) as err:
        devices.pick("cuda", env=no_cuda)
    msg = str(err.value)
    for text in ("device: cuda", "CUDA 13.0", ">= 580", "no NVIDIA driver found", "whl/cu126", "device: cpu"):
        assert text in msg
    assert isinstance(err.value, ValueError)


def test_pick_reports_the_driver(no_cuda, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 550.54.15\n")
    fake.chmod(0o755)
    with pytest.raises(devices.NoGPU, match="nvidia-smi reports driver 550.54.15"):
        devices.pick("cuda:1", env=no_cuda)


@pytest.mark.parametrize("var", ["SPARSEROBUST_GPU_ASSIGNED", "SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS"])
def test_pick_auto_raises_when_a_gpu_was_meant(no_cuda, var):
    with pytest.raises(devices.NoGPU, match=var):
        devices.pick("auto", env={**no_cuda, var: "1"})


def test_pick_auto_and_cpu(no_cuda):
    said = []
    assert devices.pick("auto", said.append, {**no_cuda, "SLURM_GPUS_ON_NODE": "0"}).type == "cpu"
    assert devices.pick("cpu", said.append, {**no_cuda, gpus.ASSIGNED: "0"}).type == "cpu"
    assert said == ["device: cpu (device: auto and no CUDA GPU visible)", "device: cpu (device: cpu in the config)"]


def test_pick_on_a_gpu_logs_which(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Fake GPU")
    said = []
    assert devices.pick("auto", said.append, {"CUDA_VISIBLE_DEVICES": "3"}) == torch.device("cuda")
    assert said == ["device: cuda:0 (Fake GPU; CUDA_VISIBLE_DEVICES=3)"]
