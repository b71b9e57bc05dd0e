"""envs/*.yaml must pin exactly what requirements.txt pins."""

import re

import yaml

from conftest import ROOT


def pins(lines):
    return {line.split("==")[0].strip().lower(): line.split("==")[1].strip()
            for line in lines if "==" in line and not line.strip().startswith("#")}


def test_conda_envs_match_requirements():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    assert req["torch"] == "2.14.1" and req["torchvision"] == "0.29.1"
    envs = list((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        assert pins(pip) == req, env.name
        assert "python=3.11" in spec["dependencies"]


def test_every_rule_has_conda_log_and_benchmark():
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    rules = len(re.findall(r"^\s*rule(\s+\w+)?:", text, flags=re.M))
    assert rules >= 6
    for directive in ("conda:", "log:", "benchmark:"):
        assert text.count(f"    {directive}") == rules, directive


def test_workflow_is_snakefmt_formatted():
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("snakefmt")
    out = subprocess.run([str(exe), "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
