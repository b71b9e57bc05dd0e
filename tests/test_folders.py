"""The ImageNet folders streamed by persistent worker processes (data/folders.py, data/stream.py) and the
decode: gpu path (data/gpudecode.py), run here on the CPU device where torchcodec is installed."""

import copy
import io
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torchvision import datasets as tvd

from sparserobust.data import fabricate, folders, gpudecode, stream
from sparserobust.pipeline import config

from conftest import ROOT

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    fabricate.imagenet(root, 3, 5, 2, size=(40, 30))
    return root


def spec(root, **extra):
    return {"key": "imagenet", "kind": "imagefolder", "root": str(root), "num_classes": 3, "workers": 0, **extra}


def epoch(data, batch_size=4, seed=None, shuffle=True):
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    xs, ys = zip(*data.batches(batch_size, CPU, gen, shuffle))
    return torch.cat(xs), torch.cat(ys)


def test_the_samples_are_imagefolders_and_the_folder_is_scanned_once(tmp_path, monkeypatch):
    made = fabricate.imagenet(tmp_path, 3, 5, 2, size=(40, 30))
    train = folders.splits(spec(tmp_path))["train"]
    expected = tvd.ImageFolder(str(tmp_path / "train")).samples
    scans = []
    real = tvd.folder.make_dataset
    monkeypatch.setattr(tvd.folder, "make_dataset", lambda *a, **k: scans.append(1) or real(*a, **k))
    assert len(train) == 15
    s = train.samples()
    assert list(zip(map(bytes.decode, s.paths), s.labels.tolist())) == expected
    made["train"][0][0].with_name("late.JPEG").write_bytes(made["train"][0][0].read_bytes())
    epoch(train)
    epoch(train)
    assert scans == [1] and len(train) == 15  # one scan: the file added later is not seen
    assert len(folders.splits(spec(tmp_path))["train"]) == 16 and scans == [1, 1]


def test_one_worker_pool_serves_every_epoch_and_an_epoch_left_early(layout):
    train = folders.splits(spec(layout, workers=2))["train"]
    first = epoch(train, seed=1)
    loader = train._stream._loader
    pids = [w.pid for w in loader._iterator._workers]
    for _, _ in zip(range(1), train.batches(4, CPU, torch.Generator().manual_seed(2), True)):
        pass  # leave the epoch after one batch, as steps_per_epoch does
    again = epoch(train, seed=1)
    assert train._stream._loader is loader and [w.pid for w in loader._iterator._workers] == pids
    assert all(w.is_alive() for w in loader._iterator._workers) and loader.persistent_workers
    assert loader.prefetch_factor == stream.PREFETCH and not loader.pin_memory  # pinned on CUDA only
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_same_seed_same_batches_whatever_the_workers(layout):
    state = torch.get_rng_state()
    runs = {w: epoch(folders.splits(spec(layout, workers=w))["train"], seed=5) for w in (0, 1, 2)}
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    for x, y in runs.values():
        assert torch.equal(x, runs[0][0]) and torch.equal(y, runs[0][1])
    assert x.shape == (15, 3, 224, 224) and x.is_contiguous(memory_format=torch.channels_last)
    train = folders.splits(spec(layout))["train"]
    other = epoch(train, seed=6)
    assert not torch.equal(other[1], runs[0][1])
    same_order, other_crops = epoch(train, seed=5, shuffle=False), epoch(train, seed=6, shuffle=False)
    assert torch.equal(same_order[1], other_crops[1]) and not torch.equal(same_order[0], other_crops[0])


def test_validation_view_is_fixed_and_in_file_order(layout):
    val = folders.splits(spec(layout))["val"]
    a, b = epoch(val, seed=1, shuffle=False), epoch(val, seed=2, shuffle=False)
    assert torch.equal(a[0], b[0]) and a[1].tolist() == [0, 0, 1, 1, 2, 2]


def test_each_process_gets_its_share_of_every_global_batch(layout, monkeypatch):
    train = folders.splits(spec(layout))["train"]
    whole = stream.plan(len(train), 4, torch.Generator().manual_seed(3), True, True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    shares = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        shares.append(stream.plan(len(train), 4, torch.Generator().manual_seed(3), True, True))
    assert len(whole) == 4 and len(shares[0]) == len(shares[1]) == 3  # 15 = 3 x 4 + 3: the last batch left out
    for batch, a, b in zip(whole, *shares, strict=False):
        assert a == batch[0::2] and b == batch[1::2] and len(a) == len(b) == 2
    monkeypatch.setenv("RANK", "1")
    x, y = epoch(train, seed=3)
    assert y.tolist() == [train.samples().labels[i] for batch in shares[1] for i, _ in batch]


def test_two_passes_at_once_fail(layout):
    train = folders.splits(spec(layout))["train"]
    older = train.batches(4, CPU, torch.Generator().manual_seed(0), True)
    next(older)
    next(train.batches(4, CPU, torch.Generator().manual_seed(0), True))
    with pytest.raises(RuntimeError, match="two passes over one streamed dataset at once"):
        next(older)


def test_byte_reading_workers_hand_over_the_files_unchanged(layout):
    files = folders.splits(spec(layout))["train"].samples()  # no transform: what decode: gpu's workers read
    loader = torch.utils.data.DataLoader(files, batch_sampler=[[(12, 7), (0, 9)]], num_workers=1,
                                         collate_fn=stream.collate_bytes)
    data, lengths, labels, seeds = next(iter(loader))
    paths = [bytes.decode(files.paths[i]) for i in (12, 0)]
    assert [bytes(f.numpy()) for f in torch.split(data, lengths.tolist())] == [open(p, "rb").read() for p in paths]
    assert labels.tolist() == [2, 0] and seeds.tolist() == [7, 9]


def test_decode_gpu_without_torchcodec_stops_before_training_naming_the_setting(layout, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchcodec", None)  # as if not installed
    with pytest.raises(ImportError, match=r"datasets\.imagenet\.decode: gpu needs torchcodec.*"
                                          r"pip install torchcodec==0\.17\.0.*or set datasets\.imagenet\.decode: cpu"):
        folders.splits(spec(layout, decode="gpu"))
    with pytest.raises(ValueError, match=r"datasets\.imagenet\.decode: 'nvjpeg' is neither cpu nor gpu"):
        folders.splits(spec(layout, decode="nvjpeg"))


def test_decode_and_prefetch_are_checked_by_the_config():
    paper = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value, where in (("decode", "gpu", "cifar10"), ("prefetch", 4, "cifar10"), ("decode", "dali", "imagenet"),
                              ("prefetch", 0, "imagenet")):
        cfg = copy.deepcopy(paper)
        cfg["datasets"][where][key] = value
        with pytest.raises(config.ConfigError, match=rf"datasets\.{where}(\.{key})?:"):
            config.validate(cfg)
    cfg = copy.deepcopy(paper)
    cfg["datasets"]["imagenet"].update(decode="gpu", prefetch=4)
    cfg["datasets"]["cub200"].update(decode="gpu")
    config.validate(cfg)


def jpeg(pixels, mode="RGB"):
    out = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_torchcodec_decodes_jpegs_as_pil_does():
    decode_jpeg = pytest.importorskip("torchcodec.decoders").decode_jpeg
    rng = np.random.default_rng(0)
    for size, mode in (((375, 500), "RGB"), ((333, 500), "RGB"), ((64, 48), "L")):
        small = rng.integers(0, 256, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
        pixels = np.asarray(Image.fromarray(small).resize(size[::-1], Image.BICUBIC))
        data = jpeg(pixels, mode)
        ours = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode="RGB")
        pil = torch.from_numpy(np.array(Image.open(io.BytesIO(data)).convert("RGB"))).permute(2, 0, 1)
        assert ours.shape == pil.shape and (ours.int() - pil.int()).abs().max() <= 2, (size, mode)


def test_decode_gpu_takes_the_cpu_paths_crops(layout):
    pytest.importorskip("torchcodec.decoders")
    for part in ("train", "val"):
        cpu = folders.splits(spec(layout))[part]
        device = folders.splits(spec(layout, decode="gpu", workers=1))[part]
        (a, ya), (b, yb) = epoch(cpu, seed=4), epoch(device, seed=4)
        assert torch.equal(ya, yb) and a.shape == b.shape == (len(cpu), 3, 224, 224)
        assert (a - b).abs().mean() < 0.5 / 255 and (a - b).abs().max() < 2.5 / 255, part  # the resampling's rounding
    train = folders.splits(spec(layout, decode="gpu"))["train"]
    same_order, other_crops = epoch(train, seed=4, shuffle=False)[0], epoch(train, seed=9, shuffle=False)[0]
    assert (same_order - other_crops).abs().mean() > 5 / 255  # the crops, not just the images, match


def test_decode_gpu_reads_a_file_the_jpeg_decoder_refuses(tmp_path):
    pytest.importorskip("torchcodec.decoders")
    made = fabricate.imagenet(tmp_path, 3, 2, 1, size=(40, 30))
    odd = made["train"][1][0]
    Image.open(odd).convert("RGB").save(odd, "PNG")  # ImageNet's train set holds one PNG named .JPEG
    with pytest.raises(RuntimeError):
        gpudecode.decoder("decode")(odd.read_bytes())
    cpu, device = (folders.splits(spec(tmp_path, **extra))["train"] for extra in ({}, {"decode": "gpu"}))
    (a, ya), (b, yb) = epoch(cpu, seed=0, shuffle=False), epoch(device, seed=0, shuffle=False)
    assert torch.equal(ya, yb) and (a[1] - b[1]).abs().max() < 2.5 / 255


def test_image_lists_decode_on_the_device_too(tmp_path):
    pytest.importorskip("torchcodec.decoders")
    from sparserobust.data import arrays, fabricate_lists

    fabricate_lists.write_cub(tmp_path / "CUB_200_2011", num_classes=2, per_class_train=4, per_class_test=2,
                              size=(40, 30))
    cub = {"key": "cub", "kind": "cub200", "root": str(tmp_path / "CUB_200_2011"), "num_classes": 2,
           "train_size": 6, "val_size": 2, "workers": 0, "views": {"crop": 16, "resize": 20}}
    cpu, device = arrays.load_splits(cub)["train"], arrays.load_splits({**cub, "decode": "gpu", "prefetch": 3})["train"]
    assert (device.decode, device.prefetch, device.take(slice(0, 2)).decode) == ("gpu", 3, "gpu")
    (a, ya), (b, yb) = epoch(cpu, seed=2), epoch(device, seed=2)
    assert torch.equal(ya, yb) and a.shape == (6, 3, 16, 16) and (a - b).abs().mean() < 1 / 255
