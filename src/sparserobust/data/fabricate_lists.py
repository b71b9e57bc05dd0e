"""Small, deterministic stand-ins for CUB-200-2011 and VisDA-2017 in the exact on-disk layouts that
data/cub.py and data/visda.py read (see their docstrings for the official formats), with real image files.

Pixels come from the demo task family (data/demo.py: class templates + noise, 16 px) upscaled to the
file size, so a small network can learn them. VisDA's validation domain is the same classes' templates
under a domain shift (stronger noise, a darker, warmer colour cast, varying image sizes), as its real
crops differ from the synthetic renderings. Every function is deterministic in `seed` and returns what
it wrote: {"classes", <split>: [(path, label)] in index-file order}.
"""

from pathlib import Path

import numpy as np
import torch

from . import demo
from .fabricate import GRAY_EVERY
from .visda import CLASSES as VISDA_CLASSES

TEMPLATE = 16  # the demo images' size; files are upscaled from it


def _by_class(task_seed, num_classes, per_class, split, noise):
    """uint8 [class, per_class, 16, 16, 3] (HWC, as PIL takes them) of a demo task."""
    x, y = demo.generate(task_seed, num_classes, num_classes * per_class, split, size=TEMPLATE, noise=noise)
    x = x[torch.argsort(y, stable=True)]  # every class has per_class images (demo labels cycle over the classes)
    return x.view(num_classes, per_class, 3, TEMPLATE, TEMPLATE).permute(0, 1, 3, 4, 2).numpy()


def _save(image, path, size, gray, fmt):
    """Upscale a 16 px image to `size` (width, height), bilinear, and write it (grayscale if `gray`)."""
    from PIL import Image

    picture = Image.fromarray(image).resize(tuple(size), Image.Resampling.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    (picture.convert("L") if gray else picture).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def _gray(number):
    """Images 2, 2 + GRAY_EVERY, ... (1-based) are grayscale, so that even a tiny layout has one."""
    return number % GRAY_EVERY == 2


def _lines(path, rows):
    path.write_text("".join(" ".join(map(str, row)) + "\n" for row in rows))


def write_cub(root, num_classes=200, per_class_train=3, per_class_test=3, size=(48, 36), seed=0, noise=0.2):
    """CUB_200_2011/ of CUB_200_2011.tgz: images/<NNN.Class_NNN>/Class_NNN_<4 digits>_<n>.jpg (as in
    '001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg'), ids 1..N in class-folder then file
    order, train/test mixed within each class; every GRAY_EVERY-th image is grayscale, as a few real ones are.
    `size` is (width, height)."""
    root, rng = Path(root), np.random.default_rng(seed)
    folders = [f"{c + 1:03d}.Class_{c + 1:03d}" for c in range(num_classes)]
    pixels = _by_class(seed, num_classes, per_class_train + per_class_test, 0, noise)
    rows, out = [], {"classes": folders, "train": [], "test": []}
    for c, folder in enumerate(folders):
        numbers = rng.choice(np.arange(1, 10_000), per_class_train + per_class_test, replace=False)
        names = sorted(f"Class_{c + 1:03d}_{n:04d}_{rng.integers(1, 800_000)}.jpg" for n in numbers)
        for name, is_train, image in zip(names, rng.permutation([1] * per_class_train + [0] * per_class_test),
                                         pixels[c], strict=True):
            rows.append((len(rows) + 1, f"{folder}/{name}", c + 1, int(is_train)))
            _save(image, root / "images" / folder / name, size, _gray(len(rows)), "JPEG")
            out["train" if is_train else "test"].append((root / "images" / folder / name, c))
    _lines(root / "images.txt", [(i, p) for i, p, _, _ in rows])
    _lines(root / "image_class_labels.txt", [(i, c) for i, _, c, _ in rows])
    _lines(root / "train_test_split.txt", [(i, t) for i, _, _, t in rows])
    _lines(root / "classes.txt", [(c + 1, f) for c, f in enumerate(folders)])
    return out


def _shifted(images, rng, size, shift=1.0):
    """The validation domain: darker, warmer images of varying sizes (the real crops vary in size);
    `shift` scales the colour change (0: none)."""
    shifted = (1 - 0.25 * shift) * images + shift * np.array([30.0, 15.0, 0.0])
    shifted = np.clip(shifted, 0, 255).round().astype(np.uint8)
    for image in shifted:
        scale = rng.uniform(0.75, 1.25)
        yield image, (round(size[0] * scale), round(size[1] * scale))


def write_visda(root, num_classes=12, per_class_train=3, per_class_val=3, size=(48, 36), seed=0, noise=0.2,
                shift=1.0):
    """train/<class>/src_<1|2>_<8 digits>_<32 hex>__<yaw>_<light>_<pitch>.png and validation/<class>/<object
    id>.jpg, each folder with image_list.txt ('<path relative to it> <label>'), classes in CLASSES order."""
    if not 1 <= num_classes <= len(VISDA_CLASSES):
        raise ValueError(f"num_classes: {num_classes}; VisDA-2017 has {len(VISDA_CLASSES)} classes")
    root, rng = Path(root), np.random.default_rng(seed)
    names = VISDA_CLASSES[:num_classes]
    train = _by_class(seed, num_classes, per_class_train, 0, noise)
    val = _by_class(seed, num_classes, per_class_val, 1, 1.5 * noise)
    out = {"classes": names, "train": [], "validation": []}
    for c, name in enumerate(names):
        synset = rng.integers(2_000_000, 5_000_000)
        files = sorted(f"{name}/src_{rng.integers(1, 3)}_{synset:08d}_{rng.bytes(16).hex()}__{rng.integers(0, 360)}_"
                       f"{rng.integers(0, 360)}_{rng.integers(100, 200)}.png" for _ in range(per_class_train))
        for rel, image in zip(files, train[c], strict=True):
            _save(image, root / "train" / rel, size, False, "PNG")
            out["train"].append((root / "train" / rel, c))
        ids = sorted(rng.choice(np.arange(1, 10**7), per_class_val, replace=False))
        for n, (image, shape) in zip(ids, _shifted(val[c], rng, size, shift), strict=True):
            path = root / "validation" / name / f"{n:07d}.jpg"
            _save(image, path, shape, _gray(len(out["validation"]) + 1), "JPEG")
            out["validation"].append((path, c))
    for domain in ("train", "validation"):
        _lines(root / domain / "image_list.txt", [(p.relative_to(root / domain).as_posix(), c) for p, c in out[domain]])
    return out
