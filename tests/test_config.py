import copy
import time

import pytest
import yaml

from sparserobust.foundations import names
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


def _analysis(c, fig, **settings):
    c["analysis"][fig] = {**c["analysis"].get(fig, {}), **settings}


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
    # the checks beyond the schema: each names its key and the choices
    (lambda c: c["source"].update(dataset="imagenet21k"), "source.dataset: unknown dataset 'imagenet21k'; defined: ["),
    (lambda c: c["transfer"].update(rounds=[0, 5, 20]), "transfer.rounds[2]: round 20 is beyond imp.rounds = 19"),
    (lambda c: c["swt"]["datasets"].append("mnist"), "swt.datasets[3]: unknown dataset 'mnist'; defined: ["),
    (lambda c: _analysis(c, "fig4", init="imagenet21k"), "analysis.fig4.init: unknown pre-training 'imagenet21k'; "
     "defined: ['adversarial', 'fast_adversarial', 'standard']"),
    (lambda c: _analysis(c, "fig4", datasets=["cifar10", "mnist"]),
     "analysis.fig4.datasets[1]: 'mnist' is not in transfer.datasets"),
    (lambda c: _analysis(c, "fig5", datasets=["mnist"]), "analysis.fig5.datasets[0]: 'mnist' is not in transfer.datasets"),
    (lambda c: _analysis(c, "table_a2", datasets=["svhn", "mnist"]),
     "analysis.table_a2.datasets[1]: 'mnist' is not in transfer.datasets"),
    (lambda c: _analysis(c, "fig6", dataset="mnist"), "analysis.fig6.dataset: 'mnist' is not in transfer.datasets"),
    (lambda c: _analysis(c, "fig7", dataset="mnist"), "analysis.fig7.dataset: 'mnist' is not in transfer.datasets"),
    (lambda c: _analysis(c, "fig6", round=20), "analysis.fig6.round: round 20 is not among the transferred rounds"),
    (lambda c: _analysis(c, "fig6", seed=7), "analysis.fig6.seed: seed 7 is not in seeds [0, 1, 2]"),
    (lambda c: _analysis(c, "fig7", data="frac0.5"), "analysis.fig7.data: 'frac0.5' is not one of ['full', 'frac0.1'"),
    (lambda c: _analysis(c, "fig6", train={"learning_rate": 0.1}),
     "analysis.fig6.train: Additional properties are not allowed ('learning_rate'"),
    (lambda c: _analysis(c, "fig6", train={"lr": -1}), "analysis.fig6.train.lr: -1 is less than or equal to the minimum of 0"),
    (lambda c: _analysis(c, "table_a2", train={"epochs": "many"}), "analysis.table_a2.train.epochs: 'many' is not of type"),
    (lambda c: _analysis(c, "fig2", train={"train_attack": {"eps": 8, "step": 2}}),
     "analysis.fig2.train.train_attack: "),
    (lambda c: c["transfer"].update(dataset_overrides={"svhn": {"standard": {"lr": "0.01"}}}),
     "transfer.dataset_overrides.svhn.standard.lr: '0.01' is not of type 'number'"),
    (lambda c: _analysis(c, "fig6", colour="red"), "analysis.fig6: Additional properties are not allowed ('colour'"),
])
def test_bad_values_fail_naming_the_key(edit, key):
    cfg = copy.deepcopy(paper())
    edit(cfg)
    with pytest.raises(config.ConfigError) as err:
        config.validate(cfg)
    assert key in str(err.value)


def test_weights_with_both_url_and_path_are_refused(tmp_path):
    cfg = paper()
    (tmp_path / "rn50.pth").write_bytes(b"weights")
    cfg["pretrain"]["standard"]["path"] = str(tmp_path / "rn50.pth")  # the url stays
    with pytest.raises(config.ConfigError, match=r"pretrain.standard: give url or path, not both"):
        config.validate(cfg)
    cfg["pretrain"]["standard"]["url"] = None
    config.validate(cfg)


ARCHS_BUILT = ["resnet50", "small_resnet", "small_resnet:16-32-64", "small_resnet:8", "preact_resnet18",
               "preact_resnet18:0.25", "vgg16_bn", "vgg16_bn:.5", "wrn34_10", "wrn16_2", "wrn10_1"]
ARCHS_REFUSED = {"resnet18": "is not an architecture", "ResNet50": "is not an architecture",
                 "preact_resnet": "is not an architecture", "wrn34-10": "is not an architecture",
                 "resnet50:2": "takes no ':2'", "wrn34_10:0.5": "takes no ':0.5'",
                 "wrn33_10": "DEPTH must be 6n + 4", "wrn4_10": "DEPTH must be 6n + 4", "wrn34_0": "K >= 1",
                 "small_resnet:": "positive integers", "small_resnet:16-0-64": "positive integers",
                 "small_resnet:16,32": "positive integers", "vgg16_bn:0": "width multiplier > 0",
                 "preact_resnet18:wide": "width multiplier > 0", "preact_resnet18:": "width multiplier > 0"}


def test_arch_names_are_checked_at_load_with_the_grammar_the_model_registry_builds():
    import torch

    from sparserobust.models import registry

    for arch in ARCHS_BUILT:
        assert names.arch_problem(arch) is None, arch
        with torch.device("meta"):  # shapes only: instant
            registry.build(arch, 10)
    for arch, why in ARCHS_REFUSED.items():
        assert why in names.arch_problem(arch), arch
    for arch in ("resnet18", "ResNet50", "preact_resnet", "wrn34-10", "small_resnet:16,32", "preact_resnet18:wide"):
        with pytest.raises(ValueError), torch.device("meta"):
            registry.build(arch, 10)  # what a job would have hit
    cfg = paper()
    cfg["model"]["arch"] = "resnet18"
    with pytest.raises(config.ConfigError) as err:
        config.validate(cfg)
    assert "model.arch: 'resnet18' is not an architecture of this workflow; known: resnet50, small_resnet" in str(err.value)
    cfg = paper()
    cfg["swt"]["archs"] = ["preact_resnet18", "wrn34_10:2"]
    with pytest.raises(config.ConfigError, match=r"swt.archs\[1\]: 'wrn34_10:2' takes no ':2'; known: .*wrnDEPTH_K"):
        config.validate(cfg)


def test_device_is_checked_at_load_with_the_grammar_the_jobs_take():
    import torch

    base = paper()
    for good in ("auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps", "xpu:1", " cuda:1 "):
        config.validate({**base, "device": good})
        if good.strip() != "auto":
            torch.device(good.strip())  # devices.pick hands every value but auto to torch.device
    for bad in ("gpu", "GPU", "CUDA", "cuda0", "cuda:", "cuda:01", "cuda:-1", "cuda:1:2", "cuda 1", "", 0, None):
        with pytest.raises(config.ConfigError) as err:
            config.validate({**base, "device": bad})
        assert f"device: {bad!r} is not a device; give one of auto, cpu, cuda, cuda:N" in str(err.value), bad
        if isinstance(bad, str) and bad:
            with pytest.raises(RuntimeError):
                torch.device(bad)  # what a job would have hit


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


@pytest.fixture(scope="module")
def paper_all():
    """The paper config's dry run of `all` and the seconds it took."""
    start = time.time()
    out = snakemake("-n", "--cores", "all", "all")
    return out, time.time() - start


def test_paper_dry_run_of_every_figure_under_30_s(paper_all):
    """Requirement: the paper config's whole DAG (both papers, every figure) builds in under 30 s."""
    out, took = paper_all
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


def test_demo_and_paper_figures_and_reports_never_mix(paper_all):
    """`make demo` writes figures/demo/, the paper figures/; a report built for one config gathers
    the figures of its own DAG only, so neither shows the other's PDFs."""
    demo = config.load(ROOT / "config" / "demo.yaml")
    paper = config.load(ROOT / "config.yaml")
    assert demo.get("figures") == "figures/demo" and paper.get("figures", "figures") == "figures"
    outs = {}
    for name, out in (("paper", paper_all[0]), ("demo", snakemake("-n", "--cores", "1", "--configfile=config/demo.yaml",
                                                                  "--", "all"))):
        assert out.returncode == 0, out.stderr[-2000:]
        lines = out.stdout.splitlines()
        outs[name] = {x.strip() for i, line in enumerate(lines) if line.strip() == "rule all:"
                      for x in lines[i + 1].split(":", 1)[1].split(",")}
    for name, figures, results in (("paper", "figures/", "results/paper/"), ("demo", "figures/demo/", "results/demo/")):
        pdfs = {p for p in outs[name] if p.endswith(".pdf")}
        assert outs[name] - pdfs == {f"{results}tables/audit.csv"}  # and the audit of its own tables
        assert pdfs and all(p.startswith(figures) and p.count("/") == figures.count("/") for p in pdfs)
