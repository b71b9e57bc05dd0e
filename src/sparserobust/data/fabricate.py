"""Small, deterministic stand-ins for the papers' datasets in the exact on-disk layouts of the
published files, so the real readers (torchvision.datasets, scipy.io.loadmat, ImageFolder,
sparserobust.data.tinyimagenet) can be tested offline.

Pixels are synthetic: a colour per class plus noise, so a network can learn something. File
names, containers, keys, dtypes and shapes are those of the official releases. Every function is
deterministic in `seed`, creates its folders and returns what it wrote. Weights: sparserobust.models.fabricate.
"""

import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()
CIFAR100_FINE = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile
cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter
palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket
rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper
table tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf
woman worm""".split()
CIFAR100_COARSE = """aquatic_mammals fish flowers food_containers fruit_and_vegetables
household_electrical_devices household_furniture insects large_carnivores large_man-made_outdoor_things
large_natural_outdoor_scenes large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people
reptiles small_mammals trees vehicles_1 vehicles_2""".split()
FINE_TO_COARSE = [4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15,
                  3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4,
                  2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
                  16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13]
GRAY_EVERY = 25  # every 25th JPEG is grayscale, as some official ImageNet / Tiny-ImageNet files are


class _Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote the official CIFAR pickles: strings as byte strings, numpy under
    numpy.core. They load with encoding='latin1' (torchvision) or 'bytes' (b'data' keys)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        head = (pickle.SHORT_BINSTRING + bytes([len(data)]) if len(data) < 256
                else pickle.BINSTRING + struct.pack("<i", len(data)))
        self.write(head + data)
        self.memoize(obj)

    dispatch[str] = dispatch[bytes] = save_py2_string

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode("ascii"))
        self.memoize(obj)


def _dump_py2(path, obj):
    with open(path, "wb") as handle:
        _Py2Pickler(handle, protocol=2).dump(obj)


def _pixels(rng, colour, h, w):
    noise = rng.integers(-48, 49, (h, w, 3), dtype=np.int16)
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def _arrays(rng, colours, labels, h=32, w=32):
    out = np.empty((len(labels), h, w, 3), np.uint8)
    for i, c in enumerate(labels):
        out[i] = _pixels(rng, colours[c], h, w)
    return out


def _colours(rng, n):
    return rng.integers(24, 232, (n, 3)).astype(np.int16)


def _wnids(rng, n, sort):
    ids = [f"n{x + 1_000_000:08d}" for x in rng.choice(14_000_000, n, replace=False)]
    return sorted(ids) if sort else ids


def _jpegs(rng, colours, items, size):
    """Write [(path, label)] as JPEGs of `size` (width, height); every GRAY_EVERY-th is grayscale."""
    from PIL import Image

    for i, (path, label) in enumerate(items):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(_pixels(rng, colours[label], size[1], size[0]))
        (image.convert("L") if i % GRAY_EVERY == GRAY_EVERY - 1 else image).save(path, "JPEG", quality=90)


def cifar(root, name, n_train, n_test, seed=0):
    """torchvision's layout of the official python-version archives (www.cs.toronto.edu/~kriz/cifar.html):
    cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta, readme.html} or
    cifar-100-python/{train, test, meta}; `data` uint8 [N, 3072] (1024 red, green, blue values, rows
    in order). Labels cycle over the classes. Returns {"train"|"test": (uint8 [N, 3, 32, 32], int64 [N])}."""
    if name not in ("cifar10", "cifar100"):
        raise ValueError(f"name: {name!r} is not cifar10 or cifar100")
    ten = name == "cifar10"
    names = CIFAR10_NAMES if ten else CIFAR100_FINE
    folder = Path(root) / ("cifar-10-batches-py" if ten else "cifar-100-python")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours, out = _colours(rng, len(names)), {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % len(names)
        x = np.ascontiguousarray(_arrays(rng, colours, labels).transpose(0, 3, 1, 2))
        out[split] = (x, labels.astype(np.int64))
        rows, files = x.reshape(n, 3072), [f"{names[c]}_s_{i:06d}.png" for i, c in enumerate(labels)]
        word = "training" if split == "train" else "testing"
        if not ten:
            _dump_py2(folder / split, {"filenames": files, "batch_label": f"{word} batch 1 of 1",
                                       "fine_labels": labels.tolist(),
                                       "coarse_labels": [FINE_TO_COARSE[c] for c in labels], "data": rows})
            continue
        parts = np.array_split(np.arange(n), 5) if split == "train" else [np.arange(n)]
        for b, idx in enumerate(parts):
            _dump_py2(folder / (f"data_batch_{b + 1}" if split == "train" else "test_batch"),
                      {"batch_label": f"{word} batch {b + 1} of {len(parts)}", "labels": labels[idx].tolist(),
                       "data": rows[idx], "filenames": [files[i] for i in idx]})
    if ten:
        _dump_py2(folder / "batches.meta",
                  {"num_cases_per_batch": -(-n_train // 5), "label_names": names, "num_vis": 3072})
        (folder / "readme.html").write_text("<meta HTTP-EQUIV=\"REFRESH\" content=\"0; "
                                            "url=http://www.cs.toronto.edu/~kriz/cifar.html\">\n")
    else:
        _dump_py2(folder / "meta", {"fine_label_names": names, "coarse_label_names": CIFAR100_COARSE})
    return out


def svhn(root, n_train, n_test, seed=0):
    """train_32x32.mat and test_32x32.mat of the official cropped digits (ufldl.stanford.edu/housenumbers),
    MATLAB v5 with compression: X uint8 [32, 32, 3, N], y uint8 [N, 1], 1..10 where 10 is the digit 0
    (torchvision.datasets.SVHN reads them). Returns {"train"|"test": (uint8 [N, 3, 32, 32], digit [N])}."""
    from scipy.io import savemat

    Path(root).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours, out = _colours(rng, 10), {}
    for split, n in (("train", n_train), ("test", n_test)):
        digits = np.arange(n) % 10
        x = _arrays(rng, colours, digits)
        path = Path(root) / f"{split}_32x32.mat"
        savemat(path, {"X": np.ascontiguousarray(x.transpose(1, 2, 3, 0)),
                       "y": np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]}, do_compression=True)
        with open(path, "r+b") as handle:  # the header's creation time would make the bytes vary
            handle.write(b"MATLAB 5.0 MAT-file, written by sparserobust.fabricate".ljust(116))
        out[split] = (np.ascontiguousarray(x.transpose(0, 3, 1, 2)), digits.astype(np.int64))
    return out


def tinyimagenet(root, num_classes, per_class_train, n_val, seed=0):
    """The official tiny-imagenet-200 archive (cs231n.stanford.edu/tiny-imagenet-200.zip): wnids.txt
    (unsorted), words.txt, train/<wnid>/images/<wnid>_<i>.JPEG with train/<wnid>/<wnid>_boxes.txt,
    val/images/val_<i>.JPEG with val/val_annotations.txt (file, wnid, x0, y0, x1, y1; tabs) and
    test/images/test_<i>.JPEG (n_val of them), all 64x64. Returns {"wnids", "train", "val"} with
    [(path, index into wnids)]."""
    root, rng = Path(root), np.random.default_rng(seed)
    wnids, colours = _wnids(rng, num_classes, sort=False), _colours(rng, num_classes)
    root.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("".join(f"{w}\n" for w in wnids))
    (root / "words.txt").write_text("".join(f"{w}\tfabricated class {wnids.index(w)}\n" for w in sorted(wnids)))

    def box():
        return "\t".join(map(str, [*rng.integers(0, 24, 2), *rng.integers(40, 64, 2)]))

    train = [(root / "train" / w / "images" / f"{w}_{i}.JPEG", c)
             for c, w in enumerate(wnids) for i in range(per_class_train)]
    val_labels = rng.permutation(np.arange(n_val) % num_classes)
    val = [(root / "val" / "images" / f"val_{i}.JPEG", int(c)) for i, c in enumerate(val_labels)]
    test = [(root / "test" / "images" / f"test_{i}.JPEG", int(c))
            for i, c in enumerate(rng.integers(0, num_classes, n_val))]
    _jpegs(rng, colours, train + val + test, (64, 64))
    for w in wnids:
        (root / "train" / w / f"{w}_boxes.txt").write_text(
            "".join(f"{w}_{i}.JPEG\t{box()}\n" for i in range(per_class_train)))
    (root / "val" / "val_annotations.txt").write_text("".join(f"{p.name}\t{wnids[c]}\t{box()}\n" for p, c in val))
    return {"wnids": wnids, "train": train, "val": val}


def imagenet(root, num_classes, per_class_train, per_class_val, seed=0, size=(80, 64)):
    """ILSVRC2012 as torchvision.datasets.ImageFolder and pytorch/examples' imagenet/main.py read it
    after the usual val preparation (valprep.sh): train/<wnid>/<wnid>_<i>.JPEG and
    val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG; `size` is (width, height). Returns {"wnids", "train",
    "val"} with [(path, class index)], the index in sorted wnid order as ImageFolder assigns it."""
    root, rng = Path(root), np.random.default_rng(seed)
    wnids, colours = _wnids(rng, num_classes, sort=True), _colours(rng, num_classes)
    train = [(root / "train" / w / f"{w}_{i + 1}.JPEG", c)
             for c, w in enumerate(wnids) for i in range(per_class_train)]
    val = [(root / "val" / w / f"ILSVRC2012_val_{j * num_classes + c + 1:08d}.JPEG", c)
           for j in range(per_class_val) for c, w in enumerate(wnids)]
    _jpegs(rng, colours, train + val, size)
    return {"wnids": wnids, "train": train, "val": val}
