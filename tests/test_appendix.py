"""Fig. 2 and Fig. A10 in the workflow: their settings checked before any job, their jobs in the paper DAG,
the fabricated layouts prepare_dataset writes, and the GPU-hours of a segmentation job."""

import copy
import json

import pytest
import yaml

from sparserobust.data import prepare
from sparserobust.performance import projection, rates
from sparserobust.pipeline import config, jobs

from conftest import ROOT, snakemake


def paper():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("edit, key", [
    (lambda c: c["analysis"]["figA10"].update(segmentation="cub200"), "analysis.figA10.segmentation"),
    (lambda c: c["analysis"]["figA10"]["datasets"].append("voc2012"), "analysis.figA10.datasets[2]"),
    (lambda c: c["analysis"]["figA10"]["datasets"].append("places365"), "analysis.figA10.datasets[2]"),
    (lambda c: c["analysis"]["figA10"]["rounds"].append(20), "analysis.figA10.rounds[7]"),
    (lambda c: c["analysis"]["fig2"].update(round=20), "analysis.fig2.round"),
    (lambda c: c["analysis"]["fig2"].update(dataset="mnist"), "analysis.fig2.dataset"),
    (lambda c: c.pop("segmentation"), "segmentation"),
    (lambda c: c["resources"]["segmentation"].update(gpu=2), "resources.segmentation.gpu"),
    (lambda c: c["datasets"]["cub200"].pop("val_size"), "datasets.cub200.val_size"),
    (lambda c: c["datasets"]["voc2012"].pop("root"), "datasets.voc2012.root"),
    (lambda c: c["datasets"]["cub200"].update(val_from="both"), "datasets.cub200.val_from"),
])
def test_bad_appendix_settings_fail_naming_the_key(edit, key):
    cfg = copy.deepcopy(paper())
    edit(cfg)
    with pytest.raises(config.ConfigError) as err:
        config.validate(cfg)
    assert key in str(err.value)


def test_studies_train_what_fig2_and_fig6_name():
    cfg = config.validate(paper())
    assert jobs.study(cfg, "fig6") == ("imp_st", 10, "cifar10", "full", "adversarial", 0)
    assert jobs.study(cfg, "fig2-dense") == ("dense", 0, "cifar10", "frac0.01", "adversarial", 0)
    assert jobs.study(cfg, "fig2-ticket") == ("imp_st", 10, "cifar10", "frac0.01", "adversarial", 0)
    spec = jobs.trajectory(cfg, "standard", "fig2-ticket")
    assert spec["fraction"] == 0.01 and spec["pruner"] == "imp_st" and "autoattack" not in spec
    # Fig. 6's trajectory is its transfer run again: the same spec but for the checkpoints kept
    same = jobs.transfer(cfg, "standard", "imp_st", 10, "cifar10", "full", "adversarial", 0)
    assert {k: v for k, v in jobs.trajectory(cfg, "standard").items() if k != "checkpoint_every"} == \
        {k: v for k, v in same.items() if k not in ("transfer_attack", "autoattack")}
    assert jobs.landscape(cfg, "standard", "pgd", "fig2-dense")["study"] == "fig2-dense"
    with pytest.raises(ValueError, match="unknown study"):
        jobs.study(cfg, "fig9")


def test_paper_dag_has_the_appendix_jobs():
    out = snakemake("-n", "--cores", "all", "figures/figA10.pdf", "figures/fig2.pdf")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    # 3 pre-trainings x 7 tickets (dense + 6 rounds) x 2 datasets x 2 regimes x 3 seeds; VOC: x 3 seeds
    assert counts["transfer"] == 3 * 7 * 2 * 2 * 3
    assert counts["segmentation"] == 3 * 7 * 3
    assert counts["trajectory"] == 3 * 2 and counts["landscape"] == 3 * 2 * 2


def test_prepare_writes_a_fabricated_layout_once(tmp_path):
    spec = {"key": "demo_cub", "kind": "cub200", "root": str(tmp_path / "CUB_200_2011"), "num_classes": 4,
            "fabricate": {"num_classes": 4, "per_class_train": 3, "per_class_test": 2, "size": [20, 16], "seed": 1}}
    lines = []
    prepare.dataset(spec, "official", tmp_path / "m.json", lines.append)
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["images"] == {"train": 12, "test": 8}
    stamp = (tmp_path / "CUB_200_2011" / "images.txt").stat().st_mtime_ns
    prepare.dataset(spec, "official", tmp_path / "m.json", lines.append)  # same options: kept as it is
    assert (tmp_path / "CUB_200_2011" / "images.txt").stat().st_mtime_ns == stamp
    assert sum("wrote a fabricated" in line for line in lines) == 1
    own = {**spec, "root": str(tmp_path / "mine")}
    (tmp_path / "mine").mkdir()
    with pytest.raises(ValueError, match="datasets.demo_cub.root: .* was not written by fabricate"):
        prepare.dataset(own, "official", tmp_path / "n.json", lines.append)
    assert not (tmp_path / "n.json").exists()


def test_segmentation_jobs_are_priced_by_their_images_and_epochs():
    cfg = config.validate(paper())
    spec = jobs.segmentation(cfg, "standard", "imp_st", 3, "voc2012", 0)
    price = rates.Pricer(rate=1e14)
    one = projection.job_seconds("segmentation", spec, price)
    twice = copy.deepcopy(spec)
    twice["train"]["epochs"] *= 2
    a, _, f = price("resnet50", 923)  # 800 x 1,066 px
    expected = (1 + projection.MASK_RCNN_HEADS) * (26 * 1464 * a + 1449 * f)
    assert one == pytest.approx(expected)
    assert projection.job_seconds("segmentation", twice, price) == pytest.approx(expected + 3 * 26 * 1464 * a)
