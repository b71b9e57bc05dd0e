"""CUB-200-2011 and VisDA-2017 read from fabricated copies of their official layouts, streamed as batches."""

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image

from sparserobust.data import arrays, cub, fabricate_lists, imagelist, visda

CPU = torch.device("cpu")
VIEWS = {"crop": 16, "resize": 20, "scale": [0.3, 1.0]}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("lists")
    return {"cub": fabricate_lists.write_cub(root / "CUB_200_2011", num_classes=4, per_class_train=5, per_class_test=3,
                                             size=(40, 30)),
            "visda": fabricate_lists.write_visda(root / "visda", per_class_train=4, per_class_val=2, size=(40, 30)),
            "root": root}


def cub_spec(root, **extra):
    return {"key": "cub", "kind": "cub200", "root": str(root / "CUB_200_2011"), "num_classes": 4, "train_size": 16,
            "val_size": 4, "workers": 0, "views": VIEWS, **extra}


def visda_spec(root, **extra):
    return {"key": "visda", "kind": "visda2017", "root": str(root / "visda"), "num_classes": 12, "train_size": 36,
            "val_size": 12, "workers": 0, "views": {"crop": 16, "resize": [16, 16]}, **extra}


def all_batches(data, batch_size=8, generator=None, shuffle=False):
    xs, ys = zip(*data.batches(batch_size, CPU, generator, shuffle))
    return torch.cat(xs), torch.cat(ys)


def test_cub_index_files_are_the_official_formats(layouts):
    root = layouts["root"] / "CUB_200_2011"
    assert (root / "classes.txt").read_text().splitlines()[:2] == ["1 001.Class_001", "2 002.Class_002"]
    lines = (root / "images.txt").read_text().splitlines()
    assert len(lines) == 32 and lines[0].startswith("1 001.Class_001/Class_001_") and lines[-1].startswith("32 004.")
    assert (root / "image_class_labels.txt").read_text().splitlines()[8:10] == ["9 2", "10 2"]
    split = [line.split()[1] for line in (root / "train_test_split.txt").read_text().splitlines()]
    assert Counter(split[:8]) == {"1": 5, "0": 3} and split[:8] != sorted(split[:8])  # mixed within class 1
    assert cub.check(cub_spec(layouts["root"])) == {"images": {"train": 20, "test": 12}}
    assert Image.open(root / "images" / lines[1].split()[1]).mode == "L"  # image 2 is grayscale


def test_cub_splits_and_labels(layouts):
    s = arrays.load_splits(cub_spec(layouts["root"]))
    assert [len(s[k]) for k in ("train", "val", "test")] == [16, 4, 12]
    assert s["train"].num_classes == 4
    assert s["val"].y.tolist() == [0, 1, 2, 3]  # the last image of every class
    assert Counter(s["train"].y.tolist()) == {0: 4, 1: 4, 2: 4, 3: 4}
    fabricated = dict(layouts["cub"]["train"] + layouts["cub"]["test"])
    for part in s.values():
        for path, label in part.items:  # the fabricated label, and the class folder's number - 1
            assert fabricated[path] == label == int(path.parent.name[:3]) - 1
    x, y = all_batches(s["test"])
    assert x.shape == (12, 3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert x.is_contiguous(memory_format=torch.channels_last) and y.tolist() == s["test"].y.tolist()


def test_balanced_order_puts_the_last_image_of_every_class_last():
    items = [("a0", 0), ("a1", 0), ("a2", 0), ("b0", 1), ("b1", 1), ("c0", 2), ("c1", 2), ("c2", 2)]
    order = [name for name, _ in imagelist.balanced_order(items)]
    assert order == ["a0", "c0", "a1", "b0", "c1", "a2", "b1", "c2"]


def test_take_and_limit(layouts):
    train = arrays.load_splits(cub_spec(layouts["root"]))["train"]
    assert train.take(slice(2, 5)).items == train.items[2:5]
    assert train.take(torch.tensor([3, 1])).items == [train.items[3], train.items[1]]
    assert train.take(train.y == 2).items == [item for item in train.items if item[1] == 2]
    assert arrays.limit(train, 0.5).items == train.items[:8]
    picked = arrays.limit(train, 0.5, "balanced", seed=1)
    assert len(picked) == 8 and Counter(picked.y.tolist()) == {0: 2, 1: 2, 2: 2, 3: 2}
    assert len(arrays.load_splits(cub_spec(layouts["root"]), fraction=0.25)["train"]) == 4


def test_val_from_test_selects_on_the_test_split(layouts):
    s = arrays.load_splits(cub_spec(layouts["root"], val_from="test", train_size=20, test_size=8))
    assert s["val"] is s["test"] and len(s["test"]) == 8 and len(s["train"]) == 20
    assert sorted(Counter(s["test"].y.tolist()).values()) == [2, 2, 2, 2]  # test order is balanced too
    with pytest.raises(ValueError, match=r"datasets\.cub\.val_from: 'tests' is neither"):
        arrays.load_splits(cub_spec(layouts["root"], val_from="tests"))


def test_visda_layout_splits_and_domains(layouts):
    root = layouts["root"] / "visda"
    first = (root / "train" / "image_list.txt").read_text().splitlines()[0]
    assert first.startswith("aeroplane/src_") and first.endswith(".png 0")
    assert (root / "validation" / "image_list.txt").read_text().splitlines()[-1].startswith("truck/")
    assert visda.check(visda_spec(layouts["root"])) == {"images": {"train": 48, "test": 24}}
    s = arrays.load_splits(visda_spec(layouts["root"]))
    assert [len(s[k]) for k in ("train", "val", "test")] == [36, 12, 24]
    assert s["val"].y.tolist() == list(range(12))
    fabricated = dict(layouts["visda"]["train"] + layouts["visda"]["validation"])
    for part in s.values():
        for path, label in part.items:
            assert fabricated[path] == label == visda.CLASSES.index(path.parent.name)
    assert all(p.parent.parent.name == "validation" and p.suffix == ".jpg" for p, _ in s["test"].items)
    assert len({Image.open(p).size for p, _ in s["test"].items}) > 1  # the real domain's crops vary in size
    x, _ = all_batches(s["test"])
    assert x.shape == (24, 3, 16, 16)
    swapped = arrays.load_splits(visda_spec(layouts["root"], train_domain="validation", test_domain="train",
                                            train_size=12, val_size=12))
    assert len(swapped["test"]) == 48 and swapped["train"].items[0][0].parent.parent.name == "validation"


def test_fabricated_pixels_are_learnable(layouts):
    """Nearest class mean on standardised pixels (train images, evaluation view) is right twice as often as chance,
    on CUB's test split and on VisDA's shifted real domain."""
    for spec, chance in ((cub_spec(layouts["root"]), 1 / 4), (visda_spec(layouts["root"]), 1 / 12)):
        s = arrays.load_splits(spec)
        feats = {}
        for name in ("train", "test"):
            part = imagelist.ListData(s[name].items, False, spec["num_classes"], spec["views"], 0)
            x, y = all_batches(part, 64)
            feats[name] = ((x.flatten(1) - x.flatten(1).mean(1, keepdim=True)) / x.flatten(1).std(1, keepdim=True), y)
        x, y = feats["train"]
        means = torch.stack([x[y == c].mean(0) for c in range(spec["num_classes"])])
        xt, yt = feats["test"]
        assert ((xt @ means.T).argmax(1) == yt).float().mean() >= 2 * chance, spec["key"]


def test_same_seed_same_batches_whatever_the_workers(layouts):
    train = arrays.load_splits(cub_spec(layouts["root"]))["train"]
    state = torch.get_rng_state()
    a = all_batches(train, 8, torch.Generator().manual_seed(5), shuffle=True)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    b = all_batches(train.take(slice(0, 16)), 8, torch.Generator().manual_seed(5), shuffle=True)
    one_worker = imagelist.ListData(train.items, True, 4, VIEWS, workers=1)
    c = all_batches(one_worker, 8, torch.Generator().manual_seed(5), shuffle=True)
    d = all_batches(train, 8, torch.Generator().manual_seed(6), shuffle=True)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[0], c[0]) and torch.equal(a[1], c[1])
    assert not torch.equal(a[1], d[1])
    same_order = all_batches(train, 8, torch.Generator().manual_seed(5), shuffle=False)  # the crops alone differ
    other_crops = all_batches(train, 8, torch.Generator().manual_seed(6), shuffle=False)
    assert torch.equal(same_order[1], other_crops[1]) and not torch.equal(same_order[0], other_crops[0])


def test_wrong_cub_layouts_are_refused(layouts, tmp_path):
    root = tmp_path / "CUB_200_2011"
    shutil.copytree(layouts["root"] / "CUB_200_2011", root)
    spec = cub_spec(tmp_path)
    with pytest.raises(ValueError, match=r"datasets\.cub\.num_classes: 5, but .*classes\.txt lists 4"):
        cub.read({**spec, "num_classes": 5})
    with pytest.raises(ValueError, match=r"train_size \+ val_size = 21 exceeds the 20 training images"):
        arrays.load_splits({**spec, "train_size": 17})
    split = root / "train_test_split.txt"
    split.write_text("".join(split.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match=r"datasets\.cub\.root: image id 32 is in only one of images\.txt and "):
        cub.read(spec)
    (root / "images.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"datasets\.cub\.root: .*images\.txt does not exist; expected the "
                                                 "CUB_200_2011 folder"):
        cub.read(spec)


def test_missing_cub_image_is_found_by_check(layouts, tmp_path):
    shutil.copytree(layouts["root"] / "CUB_200_2011", tmp_path / "CUB_200_2011")
    victim = next((tmp_path / "CUB_200_2011" / "images" / "003.Class_003").iterdir())
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=rf"datasets\.cub\.root: 1 images .* missing, e\.g\. .*{victim.name}"):
        cub.check(cub_spec(tmp_path))


def test_wrong_visda_layouts_are_refused(layouts, tmp_path):
    root = tmp_path / "visda"
    shutil.copytree(layouts["root"] / "visda", root)
    spec = visda_spec(tmp_path)
    listing = root / "train" / "image_list.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(lines[:2] + [lines[2].rsplit(" ", 1)[0] + " 12"] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match=r"datasets\.visda\.num_classes: .*image_list\.txt line 3 has label 12, "
                                         r"outside 0\.\.11"):
        visda.read(spec)
    listing.write_text("\n".join(lines) + "\n")
    (root / "validation" / "image_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"datasets\.visda\.root: .*validation/image_list\.txt does not exist "
                                                r"\(datasets\.visda\.test_domain is 'validation'\)"):
        arrays.load_splits(spec)


def test_fabrication_is_deterministic_in_the_seed(tmp_path):
    def digest(root):
        files = sorted(p for p in Path(root).rglob("*") if p.is_file())
        return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes() for p in files)).hexdigest()

    for seed, name in ((0, "a"), (0, "b"), (1, "c")):
        fabricate_lists.write_cub(tmp_path / name / "cub", 3, 2, 1, size=(20, 16), seed=seed)
        fabricate_lists.write_visda(tmp_path / name / "visda", 3, 2, 1, size=(20, 16), seed=seed)
    for folder in ("cub", "visda"):
        assert digest(tmp_path / "a" / folder) == digest(tmp_path / "b" / folder) != digest(tmp_path / "c" / folder)
