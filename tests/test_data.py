import numpy as np
import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.data import augment
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams

from conftest import fake_cifar10


def fake_svhn(root, n_train=30, n_test=10):
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(-1, 1)  # SVHN stores digit 0 as label 10
        savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})


def spec(key, name, root, **kw):
    return {"key": key, "kind": "torchvision", "name": name, "root": str(root), "download": False,
            "num_classes": 10, "mean": [0.5] * 3, "std": [0.25] * 3, **kw}


def test_cifar_splits_first_n_train_last_n_val(tmp_path, trusting):
    images = fake_cifar10(tmp_path)
    splits = data.load_splits(spec("cifar10", "cifar10", tmp_path, train_size=45, val_size=15))
    assert torch.equal(splits["train"].x, torch.from_numpy(images[:45]))
    assert torch.equal(splits["val"].x, torch.from_numpy(images[45:60]))
    assert torch.equal(splits["test"].x, torch.from_numpy(images[60:]))
    limited = data.load_splits(spec("cifar10", "cifar10", tmp_path, train_size=45, val_size=15), fraction=0.1)
    assert torch.equal(limited["train"].x, torch.from_numpy(images[:4]))  # data-limited: first N


def test_svhn_labels_and_splits(tmp_path, trusting):
    fake_svhn(tmp_path)
    splits = data.load_splits(spec("svhn", "svhn", tmp_path, train_size=20, val_size=10))
    assert len(splits["train"]) == 20 and len(splits["val"]) == 10 and len(splits["test"]) == 10
    assert splits["train"].x.shape[1:] == (3, 32, 32) and splits["train"].y.max() <= 9


def test_missing_dataset_and_bad_sizes_and_classes(tmp_path, trusting):
    with pytest.raises(FileNotFoundError, match="datasets.cifar10"):
        data.load_splits(spec("cifar10", "cifar10", tmp_path / "empty", train_size=45, val_size=15))
    fake_cifar10(tmp_path)
    with pytest.raises(ValueError, match="exceeds"):
        data.load_splits(spec("cifar10", "cifar10", tmp_path, train_size=50, val_size=15))
    with pytest.raises(ValueError, match="num_classes is 5"):
        data.load_splits(spec("cifar10", "cifar10", tmp_path, train_size=45, val_size=15, num_classes=5))


def test_demo_data_deterministic_and_balanced():
    x1, y1 = generate(2, 20, 400, 0)
    x2, y2 = generate(2, 20, 400, 0)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.dtype == torch.uint8 and torch.bincount(y1).tolist() == [20] * 20
    x3, _ = generate(3, 20, 400, 0)
    assert not torch.equal(x1, x3)


def test_batch_augmentations_shapes_ranges_and_determinism():
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    crop = hparams.augment({"kind": "crop_flip", "pad": 4})
    a = augment.apply(x, crop, torch.Generator().manual_seed(0))
    b = augment.apply(x, crop, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (8, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    none = augment.apply(x, hparams.augment({"kind": "crop_flip", "pad": 0, "flip": False}))
    assert torch.equal(none, x.float() / 255)  # zero padding, no flip: identity
    rrc = augment.apply(x, hparams.augment({"kind": "random_resized_crop", "size": 224}),
                        torch.Generator().manual_seed(0))
    assert rrc.shape == (8, 3, 224, 224) and 0 <= rrc.min() and rrc.max() <= 1
    flat = torch.full((4, 3, 32, 32), 100, dtype=torch.uint8)
    out = augment.apply(flat, hparams.augment({"kind": "random_resized_crop", "size": 64}),
                        torch.Generator().manual_seed(0))
    assert torch.allclose(out, torch.full_like(out, 100 / 255))  # crops stay inside the image
    view = augment.apply(x, hparams.augment({"kind": "resize_center_crop", "resize": 256, "size": 224}))
    assert view.shape == (8, 3, 224, 224)


def test_tiny_imagenet_folder_round_robin_split(tmp_path):
    from PIL import Image

    wnids = ["n001", "n002"]
    (tmp_path / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for c, w in enumerate(wnids):
        folder = tmp_path / "train" / w / "images"
        folder.mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (64, 64), (40 * i, 100 * c, 7)).save(folder / f"{w}_{i}.JPEG")
    (tmp_path / "val" / "images").mkdir(parents=True)
    lines = []
    for i, w in enumerate(["n002", "n001"]):
        Image.new("RGB", (64, 64), (0, 0, 0)).save(tmp_path / "val" / "images" / f"val_{i}.JPEG")
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t63\t63")
    (tmp_path / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    spec = {"key": "tinyimagenet", "kind": "tinyimagenet", "root": str(tmp_path), "num_classes": 2,
            "train_size": 4, "val_size": 2, "mean": [0.5] * 3, "std": [0.25] * 3}
    splits = data.load_splits(spec)
    assert splits["train"].x.shape == (4, 3, 64, 64) and splits["train"].x.dtype == torch.uint8
    assert splits["train"].y.tolist() == [0, 1, 0, 1] and splits["val"].y.tolist() == [0, 1]  # balanced
    assert splits["test"].y.tolist() == [1, 0]
