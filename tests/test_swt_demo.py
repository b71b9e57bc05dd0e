"""The demo's Part B is honest at its own settings (config/demo.yaml): dense adversarial training
from scratch learns, the attack bites for every method (RA well below SA), and Flying Bird+'s
adaptive control acts (its density log shows extra pruning or extra growth)."""

import json

import pytest
import yaml

from sparserobust.pipeline import jobs
from sparserobust.sparse import swt

from conftest import ROOT

CFG = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
CFG.pop("autoattack", None)  # AutoAttack has its own test; here the demo's PGD numbers
ARCH = CFG["swt"]["archs"][0]
CHANCE = 100 / 10


def run(tmp_path, dataset, method):
    out = tmp_path / f"{dataset}-{method}.json"
    swt.run(jobs.swt(CFG, ARCH, dataset, method, 0), str(out), lambda msg: None)
    return json.loads(out.read_text())


@pytest.mark.parametrize("dataset,method", [("demo_swt_a", "dense"), ("demo_swt_a", "robust_bird"),
                                            ("demo_swt_a", "flying_bird"), ("demo_swt_a", "flying_bird_plus")])
def test_demo_part_b_learns_and_the_attack_bites(tmp_path, dataset, method):
    rec = run(tmp_path, dataset, method)
    for tag in ("best", "final"):
        sa, ra = rec[f"{tag}_test_sa"], rec[f"{tag}_test_ra"]
        assert sa >= 4 * CHANCE, f"{method} on {dataset} did not learn: SA {sa:.1f}"
        assert ra <= sa - 8, f"{method} on {dataset}: RA {ra:.1f} is not well below SA {sa:.1f}"
        assert ra > CHANCE, f"{method} on {dataset}: RA {ra:.1f} at chance"
    if method == "flying_bird_plus":
        acted = [e for e in rec["density_log"] if e["extra_prune"] > 0 or e["grow_factor"] > 1]
        assert acted, "Flying Bird+'s adaptive control never acted in the demo"
        assert abs(rec["final_density"] - CFG["swt"]["density"]) > 0.01
