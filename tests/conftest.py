import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def snakemake(*args, cwd=ROOT, timeout=120):
    """Run this venv's snakemake in the repository, its folder first on PATH (for rule shells)."""
    exe = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    torch.manual_seed(0)


def fake_cifar10(root, n_train=60, n_test=20):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_train + n_test, 3072), dtype=np.uint8)
    labels = (np.arange(n_train + n_test) % 10).tolist()
    per = n_train // 5
    for i in range(5):
        sl = slice(i * per, (i + 1) * per)
        with open(folder / f"data_batch_{i + 1}", "wb") as f:
            pickle.dump({"data": images[sl], "labels": labels[sl]}, f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": images[n_train:], "labels": labels[n_train:]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    return images.reshape(-1, 3, 32, 32)


@pytest.fixture
def trusting(monkeypatch):
    """Fake dataset files are not the official ones: skip torchvision's md5 check, nothing else."""
    import torchvision.datasets as tvd
    import torchvision.datasets.cifar as cifar

    for cls in (tvd.CIFAR10, tvd.SVHN):
        monkeypatch.setattr(cls, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: True)


def flip_tensor_byte(path, out):
    """Copy the torch file at `path` to `out` with one byte of its first stored tensor flipped (a
    byte the reader uses, unlike the zip records' padding)."""
    import struct
    import zipfile

    data = bytearray(Path(path).read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 0)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0xFF
    Path(out).write_bytes(bytes(data))
    return out


def dense_ticket_files(tmp, cfg):
    """A seeded model of cfg's architecture as pre-trained weights (tmp/w.pt) and its all-ones
    ticket (tmp/t.pt), for transfer runs without the pipeline before them."""
    from sparserobust.foundations import provenance
    from sparserobust.lottery import masks
    from sparserobust.models import pretrained as weights
    from sparserobust.models import registry as models

    torch.manual_seed(0)
    net = models.build(cfg["model"]["arch"], cfg["model"]["source_classes"])
    weights.save_canonical(net.state_dict(), tmp / "w.pt", {"format": "torchvision"}, None, "pretrain.standard")
    provenance.save_torch(tmp / "t.pt", masks.to_file(masks.ones_like(net), {}))
