"""Each class of bad input (README, 'Bad input'): a clear message naming the setting or file,
and no finished-looking output."""

import errno
import json
import subprocess
import sys

import pytest
import torch
import yaml

from sparserobust.data import arrays as data
from sparserobust.data import folders
from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.models import registry as models
from sparserobust.pipeline import config, jobs, stages

from conftest import ROOT, fake_cifar10


def run_script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=300)


def demo_cfg():
    return config.load(ROOT / "config" / "demo.yaml")


def test_malformed_yaml_unknown_key_wrong_type(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: demo\nseeds: [0, 1\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(bad)
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["transfer"]["regimes"]["standard"]["learning_rate"] = 0.1
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(config.ConfigError, match=r"transfer.regimes.standard: .*learning_rate"):
        config.load(bad)
    cfg["transfer"]["regimes"]["standard"].pop("learning_rate")
    cfg["seeds"] = "0, 1"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(config.ConfigError, match="seeds: '0, 1' is not of type 'array'"):
        config.load(bad)


def test_unknown_architecture_or_malformed_device_stops_at_config_load(tmp_path):
    """Values that used to pass validation and fail only once a job built the model or picked the device."""
    bad = tmp_path / "bad.yaml"
    for edit, message in (
        (lambda c: c["model"].update(arch="resnet18"), "model.arch: 'resnet18' is not an architecture of this "
         "workflow; known: resnet50, small_resnet"),
        (lambda c: c["swt"].update(archs=["preact_resnet18:quarter"]), "swt.archs[0]: 'preact_resnet18:quarter' needs "
         "a width multiplier > 0 after ':'; known: "),
        (lambda c: c.update(device="cuda1"), "device: 'cuda1' is not a device; give one of auto, cpu, cuda, cuda:N"),
    ):
        cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
        edit(cfg)
        bad.write_text(yaml.safe_dump(cfg))
        with pytest.raises(config.ConfigError) as err:
            config.load(bad)
        assert message in str(err.value)


def imagenet_spec(root, num_classes=2):
    return {"key": "imagenet", "kind": "imagefolder", "root": str(root), "num_classes": num_classes,
            "mean": [0.5] * 3, "std": [0.25] * 3}


def test_wrong_imagenet_layout_empty_folder_and_wrong_class_count(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"datasets.imagenet.root: .*train does not exist"):
        folders.splits(imagenet_spec(tmp_path))
    for part in ("train", "val"):
        for c in ("n01", "n02"):
            (tmp_path / part / c).mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        folders.splits(imagenet_spec(tmp_path))
    with pytest.raises(ValueError, match="has 2 class folders, num_classes is 1000"):
        folders.splits(imagenet_spec(tmp_path, 1000))


def test_wrong_number_of_classes_in_a_transfer_dataset_stops_the_job(tmp_path, trusting):
    fake_cifar10(tmp_path)
    cfg = demo_cfg()
    cfg["datasets"]["cifar10"] = {"kind": "torchvision", "name": "cifar10", "root": str(tmp_path), "download": False,
                                  "num_classes": 5, "train_size": 45, "val_size": 15, "mean": [0.5] * 3,
                                  "std": [0.25] * 3}  # the files hold 10 classes
    spec = jobs.transfer(cfg, "standard", "dense", 0, "cifar10", "full", "standard", 0)
    out = tmp_path / "metrics.json"
    with pytest.raises(ValueError, match=r"datasets.cifar10: labels .* span 0..9 but num_classes is 5"):
        stages.transfer(spec, "unused", "unused", out, print)
    assert not out.exists()


def test_tiny_imagenet_missing_or_wrong(tmp_path):
    spec = {"key": "tinyimagenet", "kind": "tinyimagenet", "root": str(tmp_path), "num_classes": 200,
            "train_size": 1, "val_size": 1, "mean": [0.5] * 3, "std": [0.25] * 3}
    with pytest.raises(FileNotFoundError, match="datasets.tinyimagenet.root: .* is not a Tiny-ImageNet folder"):
        data.load_splits(spec)
    (tmp_path / "train").mkdir()
    (tmp_path / "wnids.txt").write_text("n1\nn2\n")
    with pytest.raises(ValueError, match="lists 2 classes, num_classes is 200"):
        data.load_splits(spec)


def test_missing_weights_fail_before_work_with_where_to_get_them(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["pretrain"]["standard"].update(url=None, path=str(tmp_path / "resnet50.pth"))
    with pytest.raises(config.ConfigError, match="pretrain.standard.path: .* does not exist"):
        config.validate(cfg)
    spec = jobs.fetch(config.validate(yaml.safe_load((ROOT / "config.yaml").read_text())), "fast_adversarial")
    out = tmp_path / "w.pt"
    done = run_script("fetch_weights.py", "--spec", json.dumps(spec), "--out", str(out), "--download-dir",
                      str(tmp_path))
    assert done.returncode == 1
    assert "pretrain.fast_adversarial.path" in done.stderr and "Google Drive" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_disk_full_during_a_write_leaves_nothing(tmp_path, monkeypatch):
    real = provenance.os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(provenance.os, "fsync", full)
    out = tmp_path / "ticket.pt"
    net = models.SmallResNet(10, (4, 8, 8))
    with pytest.raises(OSError, match="No space left"):
        provenance.save_torch(out, masks.to_file(masks.ones_like(net), {}))
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    monkeypatch.setattr(provenance.os, "fsync", real)
    provenance.save_torch(out, masks.to_file(masks.ones_like(net), {}))
    assert masks.load(out)


def test_a_script_reports_a_full_disk_without_a_traceback_and_leaves_nothing(tmp_path):
    import resource

    spec = {"init": "standard", "arch": "small_resnet", "num_classes": 10, "config_name": "t", "device": "cpu",
            "entry": {"format": "torchvision", "path": str(tmp_path / "w.pth"), "sha256": None}}
    torch.save(models.build("small_resnet", 10).state_dict(), tmp_path / "w.pth")
    out = tmp_path / "out" / "w.pt"

    def small_disk():  # writes past 64 KiB fail with EFBIG, as a full disk fails with ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_weights.py"), "--spec", json.dumps(spec),
                           "--out", str(out), "--download-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, preexec_fn=small_disk)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error:") and "File too large" in done.stderr and "Traceback" not in done.stderr
    assert list(out.parent.iterdir()) == []  # neither the file nor its temporary


def test_dataset_folder_in_the_wrong_layout_stops_its_prepare_job(tmp_path):
    from sparserobust.data import fabricate

    spec = {"key": "cifar10", "kind": "torchvision", "name": "cifar10", "root": str(tmp_path / "tv"),
            "num_classes": 10, "mean": [0.5] * 3, "std": [0.25] * 3}
    out = tmp_path / "cifar10.json"
    missing = run_script("prepare_dataset.py", "--spec", json.dumps(spec), "--out", str(out))
    assert missing.returncode == 1 and "datasets.cifar10.root" in missing.stderr
    assert "cifar-10-batches-py" in missing.stderr and "download: true" in missing.stderr and not out.exists()
    fabricate.cifar(tmp_path / "tv", "cifar10", 20, 10)  # the layout, but not the published files
    wrong = run_script("prepare_dataset.py", "--spec", json.dumps(spec), "--out", str(out))
    assert wrong.returncode == 1 and "published file has c99cafc152244af753f735de768cd75f" in wrong.stderr
    assert "dataset_checksums: skip" in wrong.stderr and not out.exists()
    ok = run_script("prepare_dataset.py", "--spec", json.dumps(spec), "--checksums", "skip", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(out.read_text())["checksums"] == "skip"
    nested = dict(spec, root=str(tmp_path))  # one folder too high: the files are under tv/
    assert run_script("prepare_dataset.py", "--spec", json.dumps(nested), "--checksums", "skip",
                      "--out", str(tmp_path / "x.json")).returncode == 1


def test_a_gpu_job_on_a_machine_without_cuda_stops_before_training(tmp_path):
    cfg = demo_cfg()
    cfg["device"] = "cuda"
    spec = jobs.ticket(cfg, "standard", "imp_st", 2)
    out = tmp_path / "round2.pt"
    job = run_script("make_ticket.py", "--spec", json.dumps(spec), "--weights", str(tmp_path / "absent.pt"),
                     "--out", str(out))
    assert job.returncode == 1 and not out.exists()
    assert "device: cuda" in job.stderr and "driver" in job.stderr and "device: cpu" in job.stderr
    assert "Traceback" not in job.stderr


def test_a_resource_key_the_slurm_plugin_does_not_know_stops_before_any_job(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["resources"]["transfer"]["gpus_per_node"] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(config.ConfigError, match=r"resources.transfer: .*gpus_per_node.* known: .*gpu_model"):
        config.load(path)
    cfg["resources"]["transfer"].pop("gpus_per_node")
    cfg["resources"]["transfer"].update(gpu_model="a100", slurm_partition="gpu", slurm_extra="--exclusive")
    path.write_text(yaml.safe_dump(cfg))
    config.load(path)  # the plugin's own keys pass
