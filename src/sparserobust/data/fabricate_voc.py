"""A small, deterministic VOC2012 segmentation layout (voc.py's folders and file formats) for tests and
the demo: real JPEGs and palette PNGs with the official VOC colormap (the devkit's VOClabelcolormap.m
bitget formula), and synthetic, learnable content: 1-3 non-overlapping objects per image, each a filled
rectangle or ellipse whose colour and stripes depend on its class, on a noisy background, each outlined
by a void (255) band of 1-2 px as VOC's annotations are.
"""

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .voc import VOID


def colormap(n=256):
    """VOC's label colours: bits of the index spread over the high bits of r, g and b."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, rgb = i, [0, 0, 0]
        for j in range(8):
            for k in range(3):
                rgb[k] |= ((c >> k) & 1) << (7 - j)
            c >>= 3
        cmap[i] = rgb
    return cmap


def _place(rng, size, placed):
    """An object box (x0, y0, x1, y1 inclusive) 1/4-1/2 of the short side, clear of `placed` by 4 px."""
    w, h = size
    for _ in range(20):
        bw, bh = (rng.integers(min(w, h) // 4, min(w, h) // 2 + 1, 2))
        x0, y0 = int(rng.integers(2, w - bw - 2)), int(rng.integers(2, h - bh - 2))
        box = (x0, y0, x0 + int(bw) - 1, y0 + int(bh) - 1)
        if all(box[0] > b[2] + 4 or box[2] < b[0] - 4 or box[1] > b[3] + 4 or box[3] < b[1] - 4 for b in placed):
            return box
    return None


def _paint(rng, pixels, shape_mask, label, num_classes):
    """The class's colour (a hue per class) with stripes whose period and direction depend on it."""
    rgb = np.array(colorsys.hsv_to_rgb((label - 1) / max(num_classes - 1, 1), 0.85, 0.95)) * 255
    ys, xs = np.nonzero(shape_mask)
    stripes = (((xs if label % 2 else ys) // (2 + label % 3)) % 2)[:, None]
    pixels[ys, xs] = rgb * (1 - 0.3 * stripes) + rng.normal(0, 12, (len(ys), 3))


def _image(rng, size, num_classes):
    w, h = size
    pixels = rng.normal(110, 35, (h, w, 3))
    obj, cls = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    drawn, boxes = [], []
    for _ in range(int(rng.integers(1, 4))):
        box = _place(rng, size, boxes)
        if box is None:
            continue
        label, shape = int(rng.integers(1, num_classes)), ("rectangle", "ellipse")[int(rng.integers(0, 2))]
        canvas = Image.new("L", size, 0)
        draw, wide = ImageDraw.Draw(canvas), int(rng.integers(1, 3))
        getattr(draw, shape)([box[0] - wide, box[1] - wide, box[2] + wide, box[3] + wide], fill=1)
        getattr(draw, shape)(list(box), fill=2)
        band = np.array(canvas)
        obj[band == 1], cls[band == 1] = VOID, VOID
        obj[band == 2], cls[band == 2] = len(drawn) + 1, label
        _paint(rng, pixels, band == 2, label, num_classes)
        boxes.append(box)
        drawn.append({"label": label, "shape": shape, "box": box})
    return np.clip(pixels, 0, 255).astype(np.uint8), obj, cls, drawn


def png(array, path, palette=None):
    """A palette PNG of uint8 indices (putpalette turns the L image into P, indices kept)."""
    img = Image.fromarray(array)
    img.putpalette(palette or colormap().flatten().tolist())
    img.save(path)


def write(root, num_classes=21, n_train=16, n_test=8, size=(64, 64), seed=0):
    """Write the layout under `root`; returns {"images": {train, test}, "objects": {id: [drawn objects]}}
    (label, shape, box = inclusive x0, y0, x1, y1 of the shape as drawn)."""
    root, size = Path(root), (int(size[0]), int(size[1]))  # a YAML list too
    for folder in ("JPEGImages", "SegmentationObject", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rng, palette = np.random.default_rng(seed), colormap().flatten().tolist()
    objects, listed = {}, {"train": [], "val": []}
    for i in range(n_train + n_test):
        image_id = f"2007_{i:06d}"
        pixels, obj, cls, objects[image_id] = _image(rng, size, num_classes)
        Image.fromarray(pixels).save(root / "JPEGImages" / f"{image_id}.jpg", quality=90)
        png(obj, root / "SegmentationObject" / f"{image_id}.png", palette)
        png(cls, root / "SegmentationClass" / f"{image_id}.png", palette)
        listed["train" if i < n_train else "val"].append(image_id)
    for split, names in listed.items():
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return {"images": {"train": n_train, "test": n_test}, "objects": objects}
