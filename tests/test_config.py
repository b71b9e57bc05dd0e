import copy
import time

import pytest
import yaml

from sparserobust.pipeline import config

from conftest import ROOT, snakemake


def paper():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_paper_and_demo_configs_are_valid():
    config.validate(paper())
    config.load(ROOT / "config" / "demo.yaml")


def test_paper_config_has_the_papers_numbers():
    cfg = paper()
    assert cfg["imp"]["prune_fraction"] == 0.2 and cfg["imp"]["rounds"] == 19
    assert cfg["pretrain"]["standard"]["url"].endswith("resnet50-19c8e357.pth")
    assert cfg["datasets"]["cifar10"]["train_size"] == 45000 and cfg["datasets"]["cifar10"]["val_size"] == 5000
    adv = cfg["transfer"]["regimes"]["adversarial"]
    assert adv["train_attack"]["steps"] == 10 and adv["eval_attack"]["steps"] == 20
    assert adv["milestones"] == [50, 75] and adv["lr"] == 0.1
    std = cfg["transfer"]["regimes"]["standard"]
    assert (std["epochs"], std["lr"], std["batch_size"], std["milestones"]) == (150, 0.001, 64, [50, 100])
    assert abs(config.round_sparsity(cfg, 10) - 0.8926) < 1e-4


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["transfer"]["datasets"].append("mnist"), "transfer.datasets[3]"),
    (lambda c: c["imp"].update(prune_fraction=1.5), "imp.prune_fraction"),
    (lambda c: c["imp"].update(prune_fraction=0), "imp.prune_fraction"),
    (lambda c: c["pretrain"]["fast_adversarial"].update(path="/nonexistent/rn50.pth"),
     "pretrain.fast_adversarial.path"),
    (lambda c: c["pretrain"]["standard"].update(sha256="xyz123"), "pretrain.standard.sha256"),
    (lambda c: c["pretrain"]["standard"].update(sha256="abc"), "pretrain.standard.sha256"),
    (lambda c: c["imp"].update(prune_fractoin=0.2), "imp"),
    (lambda c: c["transfer"]["regimes"]["standard"].update(epochs="many"), "transfer.regimes.standard.epochs"),
    (lambda c: c["random_pruning"]["pretrain"].append("imagenet21k"), "random_pruning.pretrain[3]"),
    (lambda c: c["transfer"]["regimes"]["adversarial"]["train_attack"].update(model_mode="half"),
     "transfer.regimes.adversarial.train_attack"),
])
def test_bad_values_fail_naming_the_key(edit, key):
    cfg = copy.deepcopy(paper())
    edit(cfg)
    with pytest.raises(config.ConfigError) as err:
        config.validate(cfg)
    assert key in str(err.value)


def test_malformed_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(bad)


def test_paper_dry_run_builds_full_dag_offline_fast():
    start = time.time()
    out = snakemake("-n", "--cores", "all", "figures/fig3.pdf")
    took = time.time() - start
    assert out.returncode == 0, out.stderr[-2000:] + out.stdout[-2000:]
    text = out.stdout + out.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    # 3 pre-trainings x (dense + 19 IMP rounds) + 3 x 19 random, x 3 datasets x 2 regimes x 3 seeds
    assert counts["transfer"] == (3 * 20 + 3 * 19) * 3 * 2 * 3
    assert counts["ticket"] == 3 * 20 + 3 * 19 and counts["fetch_weights"] == 3
    assert took < 30, f"dry run took {took:.1f} s"


def test_paper_dry_run_of_every_figure_under_30_s():
    """Requirement: the paper config's whole DAG (both papers, every figure) builds in under 30 s."""
    start = time.time()
    out = snakemake("-n", "--cores", "all", "all")
    took = time.time() - start
    assert out.returncode == 0, out.stderr[-2000:] + out.stdout[-2000:]
    assert "swt" in out.stdout + out.stderr and "landscape" in out.stdout + out.stderr
    assert took < 30, f"dry run took {took:.1f} s"


def test_bad_config_stops_snakemake_before_any_job(tmp_path):
    cfg = paper()
    cfg["transfer"]["datasets"] = ["cifar10", "mnist"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", f"--configfile={path}", "figures/fig3.pdf")
    assert out.returncode != 0
    assert "transfer.datasets[1]" in out.stdout + out.stderr


def test_demo_and_paper_figures_and_reports_never_mix():
    """`make demo` writes figures/demo/, the paper figures/; a report built for one config gathers
    the figures of its own DAG only, so neither shows the other's PDFs."""
    demo = config.load(ROOT / "config" / "demo.yaml")
    paper = config.load(ROOT / "config.yaml")
    assert demo.get("figures") == "figures/demo" and paper.get("figures", "figures") == "figures"
    outs = {}
    for name, args in (("paper", ()), ("demo", ("--configfile=config/demo.yaml",))):
        out = snakemake("-n", "--cores", "1", *args, "--", "all")
        assert out.returncode == 0, out.stderr[-2000:]
        lines = out.stdout.splitlines()
        outs[name] = {x.strip() for i, line in enumerate(lines) if line.strip() == "rule all:"
                      for x in lines[i + 1].split(":", 1)[1].split(",")}
    assert outs["paper"] and all(p.startswith("figures/") and p.count("/") == 1 for p in outs["paper"])
    assert outs["demo"] and all(p.startswith("figures/demo/") for p in outs["demo"])
