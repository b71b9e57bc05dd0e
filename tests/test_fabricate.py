"""The fabricated files have the published layouts: read them with the readers users have."""

import hashlib
import json
import pickle
import re
import subprocess
import sys
import zipfile
from collections import Counter, OrderedDict

import dill
import numpy as np
import pytest
import torch
import torchvision
import torchvision.datasets as tvd
from PIL import Image
from scipy.io import loadmat

from sparserobust.data import fabricate, tinyimagenet
from sparserobust.models import fabricate as fw
from sparserobust.models import pretrained as weights

from conftest import ROOT


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes()
                                   for p in files)).hexdigest()


def test_cifar10_reads_with_torchvision_and_as_the_official_pickles_do(tmp_path, trusting):
    made = fabricate.cifar(tmp_path, "cifar10", 53, 17, seed=3)
    folder = tmp_path / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta", "readme.html"])
    for train, n in ((True, 53), (False, 17)):
        ds = tvd.CIFAR10(str(tmp_path), train=train)
        x, y = made["train" if train else "test"]
        assert ds.data.shape == (n, 32, 32, 3) and ds.data.dtype == np.uint8
        np.testing.assert_array_equal(ds.data, x.transpose(0, 2, 3, 1))
        assert ds.targets == y.tolist() and set(ds.targets) == set(range(10))
    assert ds.classes == fabricate.CIFAR10_NAMES
    with open(folder / "data_batch_1", "rb") as handle:  # the CIFAR page's own recipe: b'' keys
        raw = pickle.load(handle, encoding="bytes")
    assert list(raw) == [b"batch_label", b"labels", b"data", b"filenames"]
    assert raw[b"data"].dtype == np.uint8 and raw[b"data"].shape == (11, 3072)
    red = made["train"][0][0, 0]
    np.testing.assert_array_equal(raw[b"data"][0, :1024].reshape(32, 32), red)  # the red plane comes first
    assert raw[b"batch_label"] == b"training batch 1 of 5" and raw[b"filenames"][0].endswith(b".png")
    with open(folder / "batches.meta", "rb") as handle:
        meta = pickle.load(handle, encoding="latin1")
    assert meta == {"num_cases_per_batch": 11, "label_names": fabricate.CIFAR10_NAMES, "num_vis": 3072}
    with pytest.raises(UnicodeDecodeError), open(folder / "test_batch", "rb") as handle:
        pickle.load(handle)  # as with the official Python 2 pickles, an encoding is required


def test_cifar100_reads_with_torchvision(tmp_path, trusting):
    made = fabricate.cifar(tmp_path, "cifar100", 130, 20)
    folder = tmp_path / "cifar-100-python"
    assert sorted(p.name for p in folder.iterdir()) == ["meta", "test", "train"]
    ds = tvd.CIFAR100(str(tmp_path), train=True)
    assert ds.data.shape == (130, 32, 32, 3) and ds.data.dtype == np.uint8
    assert set(ds.targets) == set(range(100)) and ds.targets == made["train"][1].tolist()
    assert ds.classes == fabricate.CIFAR100_FINE and len(tvd.CIFAR100(str(tmp_path), train=False)) == 20
    with open(folder / "train", "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    assert list(raw) == ["filenames", "batch_label", "fine_labels", "coarse_labels", "data"]
    assert raw["coarse_labels"] == [fabricate.FINE_TO_COARSE[c] for c in raw["fine_labels"]]
    with open(folder / "meta", "rb") as handle:
        meta = pickle.load(handle, encoding="latin1")
    assert len(meta["fine_label_names"]) == 100 and len(meta["coarse_label_names"]) == 20


def test_svhn_matlab_files_read_with_scipy_and_torchvision(tmp_path, trusting):
    made = fabricate.svhn(tmp_path, 25, 12, seed=1)
    mat = loadmat(str(tmp_path / "train_32x32.mat"))
    assert mat["X"].shape == (32, 32, 3, 25) and mat["X"].dtype == np.uint8
    assert mat["y"].shape == (25, 1) and set(mat["y"].ravel()) == set(range(1, 11))
    ds = tvd.SVHN(str(tmp_path), split="train")
    assert ds.data.shape == (25, 3, 32, 32) and set(ds.labels) == set(range(10))
    np.testing.assert_array_equal(ds.data, made["train"][0])
    np.testing.assert_array_equal(ds.labels, made["train"][1])
    assert len(tvd.SVHN(str(tmp_path), split="test")) == 12


def test_tinyimagenet_archive_layout(tmp_path):
    made = fabricate.tinyimagenet(tmp_path, 7, 3, 16, seed=2)
    wnids = (tmp_path / "wnids.txt").read_text().split()
    assert wnids == made["wnids"] and len(set(wnids)) == 7 and all(re.fullmatch(r"n\d{8}", w) for w in wnids)
    assert {line.split("\t")[0] for line in (tmp_path / "words.txt").read_text().splitlines()} == set(wnids)
    modes = Counter()
    for w in wnids:
        images = sorted(p.name for p in (tmp_path / "train" / w / "images").iterdir())
        assert images == sorted(f"{w}_{i}.JPEG" for i in range(3))
        boxes = [line.split("\t") for line in (tmp_path / "train" / w / f"{w}_boxes.txt").read_text().splitlines()]
        assert sorted(b[0] for b in boxes) == images and all(len(b) == 5 for b in boxes)
    rows = [line.split("\t") for line in (tmp_path / "val" / "val_annotations.txt").read_text().splitlines()]
    assert len(rows) == 16 and all(len(r) == 6 and r[1] in wnids for r in rows)
    assert {r[1] for r in rows} == set(wnids)
    listed = [tmp_path / "val" / "images" / r[0] for r in rows] + sorted((tmp_path / "train").rglob("*.JPEG"))
    for path in listed + sorted((tmp_path / "test" / "images").iterdir()):
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (64, 64)
            modes[image.mode] += 1
    assert modes["RGB"] > 0 and modes["L"] > 0 and sum(modes.values()) == 21 + 16 + 16
    spec = {"root": str(tmp_path), "key": "tiny", "num_classes": 7}
    x, y = tinyimagenet.load(spec, train=False)
    assert x.shape == (16, 3, 64, 64) and x.dtype == torch.uint8
    assert y.tolist() == [wnids.index(r[1]) for r in rows]


def test_imagenet_folder_reads_with_imagefolder(tmp_path):
    made = fabricate.imagenet(tmp_path, 12, 3, 2, size=(40, 30))
    train, val = tvd.ImageFolder(str(tmp_path / "train")), tvd.ImageFolder(str(tmp_path / "val"))
    assert train.classes == val.classes == sorted(made["wnids"]) == made["wnids"]
    assert Counter(train.targets) == {c: 3 for c in range(12)}
    assert Counter(val.targets) == {c: 2 for c in range(12)}
    assert sorted((str(p), c) for p, c in made["train"]) == sorted(train.samples)
    names = [p.rsplit("/", 1)[1] for p, _ in val.samples]
    assert all(re.fullmatch(r"ILSVRC2012_val_\d{8}\.JPEG", n) for n in names) and len(set(names)) == 24
    assert all(re.fullmatch(rf"{train.classes[c]}_\d+\.JPEG", p.rsplit("/", 1)[1]) for p, c in train.samples)
    image, label = val[5]
    assert image.mode == "RGB" and image.size == (40, 30) and label == val.targets[5]


def test_datasets_are_deterministic_in_the_seed(tmp_path):
    def build(root, seed):
        fabricate.cifar(root, "cifar10", 20, 10, seed)
        fabricate.svhn(root, 20, 10, seed)
        fabricate.tinyimagenet(root / "tiny", 4, 2, 8, seed)
        fabricate.imagenet(root / "in", 4, 2, 1, seed)
        return digest(root)

    assert build(tmp_path / "a", 0) == build(tmp_path / "b", 0) != build(tmp_path / "c", 1)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(5)
    seeded = torchvision.models.resnet50(weights=None).state_dict()
    return fw.weights(root, seed=5), seeded


def locations(path, **kwargs):
    seen = []
    blob = torch.load(path, map_location=lambda storage, loc: seen.append(loc) or storage, **kwargs)
    return blob, set(seen)


@pytest.mark.parametrize("name", ["torchvision", "fast_adversarial", "robustness", "robustness_zip"])
def test_weights_convert_back_to_the_seeded_resnet50(published, name):
    written, seeded = published
    path, sha = written[name]
    assert path.name == fw.FILES[name] and weights.sha256_of(path) == sha
    assert zipfile.is_zipfile(path) == (name == "robustness_zip")
    state = weights.convert(path, name.removesuffix("_zip"), torchvision.models.resnet50(), name)
    assert state.keys() == seeded.keys()
    assert all(torch.equal(state[k], seeded[k]) for k in seeded)


def test_torchvision_file_is_a_bare_2017_state_dict(published):
    path = published[0]["torchvision"][0]
    blob, where = locations(path, weights_only=True)
    assert type(blob) is OrderedDict and not hasattr(blob, "_metadata") and where == {"cpu"}
    assert len(blob) == 267 and not any(k.endswith("num_batches_tracked") for k in blob)
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    assert b"torch._utils\n_rebuild_tensor\n" in head and b"_rebuild_tensor_v2" not in head


def test_fast_adversarial_checkpoint_is_what_main_fast_saves(published):
    written, seeded = published
    blob, where = locations(written["fast_adversarial"][0], weights_only=True)
    assert list(blob) == ["epoch", "arch", "state_dict", "best_prec1", "optimizer"] and where == {"cuda:0"}
    assert blob["arch"] == "resnet50" and blob["epoch"] == 15 and blob["best_prec1"].shape == (1,)
    assert list(blob["state_dict"]) == [f"module.{k}" for k in seeded]
    net = torchvision.models.resnet50()
    named = dict(net.named_parameters())
    bn = [p for n, p in named.items() if n.endswith(("weight", "bias")) and ("bn" in n or "downsample.1" in n)]
    rest = [p for p in named.values() if all(p is not q for q in bn)]
    opt = torch.optim.SGD([{"params": rest}, {"params": bn, "weight_decay": 0}], 0.1, momentum=0.9,
                          weight_decay=1e-4)
    opt.load_state_dict(blob["optimizer"])
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0] and len(opt.state) == 161


@pytest.mark.parametrize("name", ["robustness", "robustness_zip"])
def test_robustness_checkpoint_is_what_the_library_saves_with_dill(published, name):
    written, seeded = published
    blob, where = locations(written[name][0], pickle_module=dill, weights_only=False)
    assert list(blob) == ["model", "optimizer", "schedule", "epoch", "amp", "adv_prec1"] and where == {"cuda:0"}
    model = blob["model"]
    assert len(model) == 2 * len(seeded) + 4
    for prefix in ("module.model.", "module.attacker.model."):
        assert all(torch.equal(model[prefix + k], v) for k, v in seeded.items())
    for prefix in ("module.normalizer.", "module.attacker.normalize."):
        assert torch.allclose(model[prefix + "new_mean"], torch.tensor(fw.MEAN).view(3, 1, 1))
        assert torch.allclose(model[prefix + "new_std"], torch.tensor(fw.STD).view(3, 1, 1))
    opt = torch.optim.SGD(torchvision.models.resnet50().parameters(), 0.1, momentum=0.9)
    opt.load_state_dict(blob["optimizer"])
    torch.optim.lr_scheduler.StepLR(opt, 30).load_state_dict(blob["schedule"])
    assert blob["epoch"] == 90 and blob["amp"] is None and len(opt.state) == 161


def fabricate_cli(out, *extra):
    cmd = [sys.executable, str(ROOT / "scripts" / "fabricate_paper_data.py"), "--out", str(out), "--no-weights",
           "--imagenet-classes", "3", "--imagenet-size", "24", "16", "--cifar-train", "10", "--cifar-test", "5",
           "--svhn-train", "10", "--svhn-test", "5", "--tiny-classes", "3", "--tiny-val", "3", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def test_script_is_idempotent_and_rebuilds_on_new_options(tmp_path):
    out = tmp_path / "fab"
    assert "wrote" in fabricate_cli(out)
    for sub in ("imagenet/train", "torchvision/cifar-10-batches-py", "torchvision/cifar-100-python",
                "torchvision/train_32x32.mat", "tiny-imagenet-200/wnids.txt"):
        assert (out / sub).exists(), sub
    marker = (out / ".complete").stat().st_mtime_ns
    assert "nothing to do" in fabricate_cli(out) and (out / ".complete").stat().st_mtime_ns == marker
    assert "wrote" in fabricate_cli(out, "--svhn-train", "20")
    assert json.loads((out / ".complete").read_text())["options"]["svhn_train"] == 20
    assert loadmat(str(out / "torchvision" / "train_32x32.mat"))["y"].shape == (20, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["fab"]  # no temporary folders left behind
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(subprocess.CalledProcessError):
        fabricate_cli(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
