"""Cluster scale: the SLURM profile's sbatch arguments, local rules, GPU capping locally."""

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import ROOT

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


class Resources(dict):
    def __getattr__(self, name):
        return self[name]


def dry_run_resources(*args):
    out = subprocess.run([SNAKEMAKE, "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    jobs, rule, output = {}, None, None
    for line in out.stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif line.strip().startswith("output:"):
            output = line.split(":", 1)[1].strip()
        elif rule and line.strip().startswith("resources:"):
            pairs = [p.split("=", 1) for p in line.split(":", 1)[1].split(", ")]
            res = Resources({k.strip(): int(v) if v.isdigit() else v for k, v in pairs})
            jobs.setdefault(rule, res)
            jobs[output] = res
    return jobs


def sbatch(resources, threads=1):
    plugin = pytest.importorskip("snakemake_executor_plugin_slurm")
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(resources=resources, threads=threads)
    params = {"run_uuid": "x", "slurm_logfile": "log", "comment_str": "c", "account": "", "partition": "",
              "workdir": "."}
    assert plugin
    return get_submit_command(job, params) + set_gres_string(job)


def test_slurm_profile_sbatch_arguments_for_gpu_and_cpu_rules():
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert "cpus_per_task" not in profile.get("default-resources", {})
    jobs = dry_run_resources("--profile", "profiles/slurm", "--", "results/paper/tables/fig3.csv")
    gpu = sbatch(jobs["transfer"])
    assert "--gpus=1" in gpu and "--cpus-per-gpu=8" in gpu and "--cpus-per-task" not in gpu
    assert "-t 2880" in gpu and "--mem 64000" in gpu
    assert "--nodes=1" in gpu
    round3 = "results/paper/tickets/standard/imp_st/round3.pt"
    node = sbatch(dry_run_resources("--profile", "profiles/slurm", "--", round3)[round3])
    assert "--gpus=8" in node and "--mem 480000" in node
    assert "--nodes=1" in node  # torchrun --standalone: the 8 GPUs of an IMP round on one node


def test_slurm_plugin_keys_from_the_config_reach_sbatch(tmp_path):
    """gpu_model, partition, account, constraint and extra flags set in config.yaml's resources
    pass the schema and come out as the plugin's sbatch flags."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["resources"]["ticket"].update(gpu_model="h100", slurm_partition="gpu", slurm_account="lab",
                                      constraint="ib", slurm_extra="--exclusive")
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(cfg))
    round3 = "results/paper/tickets/standard/imp_st/round3.pt"
    res = dry_run_resources("--profile", "profiles/slurm", f"--configfile={path}", "--", round3)[round3]
    line = sbatch(res)
    assert "--gpus=h100:8" in line and "--nodes=1" in line and "-C ib" in line and "--exclusive" in line
    assert res["slurm_partition"] == "gpu" and res["slurm_account"] == "lab"


def test_tables_and_plots_are_local_rules():
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        wf = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
                          storage_settings=StorageSettings(), snakefile=ROOT / "Snakefile", workdir=ROOT)._workflow
        local = set(wf._localrules)  # what is_local() consults under a cluster executor
    assert {"plot_fig3", "plot_swt_table", "collect_runs", "double_win_table", "all"} <= local
    assert {"fetch_weights", "prepare_dataset"} <= local  # downloads run where the network is
    assert not {"transfer", "ticket", "swt_sparse", "pretrain_demo"} & local


def test_local_profile_caps_gpu_jobs_and_capped_rounds_keep_the_batch():
    profile = yaml.safe_load((ROOT / "profiles/local/config.yaml").read_text())
    assert "gpu=1" in profile["resources"]
    out = subprocess.run([SNAKEMAKE, "-n", "-p", "--", "results/paper/tickets/standard/imp_st/round3.pt"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "python scripts/launch.py --gpus 8 -- scripts/make_ticket.py" in out.stdout
    assert "--batch-split 8" in out.stdout
    local = subprocess.run([SNAKEMAKE, "-n", "-p", "--profile", "profiles/local", "--",
                            "results/paper/tickets/standard/imp_st/round3.pt"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    # capped to one GPU: one process, which accumulates 8 micro-batches per step of 2048 images
    assert "python scripts/launch.py --gpus 1 -- scripts/make_ticket.py" in local.stdout
    assert "--batch-split 8" in local.stdout
