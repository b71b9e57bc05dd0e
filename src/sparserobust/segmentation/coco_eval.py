"""COCO-style mask and box AP (AP@[.5:.95], AP@.5) with pycocotools' own COCOeval on in-memory
ground truth and detections, as torchvision's detection references evaluate (coco_eval.py there).

Ground truth: one COCO annotation per instance (RLE of the binary mask from pycocotools.mask.encode,
its area, xywh box, iscrowd 0); categories 1..num_classes-1. Detections: masks thresholded at 0.5,
boxes xyxy -> xywh. Segm and bbox results are loaded separately (loadRes would take a result that
has a box for a box result and replace its mask by the box's polygon).
"""

import contextlib
import io

import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def rle(mask):
    return mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))


def xywh(box):
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]


def annotations(tgt, first_id):
    """COCO annotations of one torchvision target, numbered from `first_id` (COCOeval needs ids > 0)."""
    return [{"id": first_id + i, "image_id": int(tgt["image_id"]), "category_id": int(label), "segmentation": rle(mask),
             "area": float(mask.sum()), "bbox": xywh(box), "iscrowd": 0}
            for i, (box, label, mask) in enumerate(zip(tgt["boxes"], tgt["labels"], tgt["masks"]))]


def coco(images, anns, num_classes):
    if not anns:
        raise ValueError("the test set has no instances: AP is undefined")
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(1, num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def ground_truth(targets, sizes, num_classes):
    """A COCO object of `targets` (torchvision target dicts) on images of `sizes` [(H, W)]."""
    images, anns = [], []
    for tgt, (h, w) in zip(targets, sizes):
        images.append({"id": int(tgt["image_id"]), "height": int(h), "width": int(w)})
        anns += annotations(tgt, len(anns) + 1)
    return coco(images, anns, num_classes)


def detections(outputs, image_ids):
    """(segm results, bbox results) of Mask R-CNN outputs (boxes, labels, scores, masks [N,1,H,W])."""
    segm, bbox = [], []
    for out, image_id in zip(outputs, image_ids):
        for box, label, score, mask in zip(out["boxes"], out["labels"], out["scores"], out["masks"]):
            common = {"image_id": int(image_id), "category_id": int(label), "score": float(score)}
            segm.append({**common, "segmentation": rle(mask[0] > 0.5)})
            bbox.append({**common, "bbox": xywh(box)})
    return segm, bbox


def average_precision(gt, results, kind, log=None):
    """(AP, AP50) in percent; no detections: 0."""
    if not results:
        return 0.0, 0.0
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        ev = COCOeval(gt, gt.loadRes(results), kind)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    if log:
        log(f"pycocotools {kind}:\n{text.getvalue().strip()}")
    return max(float(ev.stats[0]), 0.0) * 100, max(float(ev.stats[1]), 0.0) * 100


def summary(gt, segm, bbox, log=None):
    mask_ap, mask_ap50 = average_precision(gt, segm, "segm", log)
    box_ap, box_ap50 = average_precision(gt, bbox, "bbox", log)
    return {"mask_ap": mask_ap, "mask_ap50": mask_ap50, "box_ap": box_ap, "box_ap50": box_ap50}


def scores(gt, outputs, image_ids, log=None):
    """AP of Mask R-CNN outputs against the COCO ground truth `gt`."""
    return summary(gt, *detections(outputs, image_ids), log)


@torch.no_grad()
def evaluate(model, dataset, device, batch_size, log=None):
    """The model's mask and box AP on `dataset` (a voc.VOCInstances without flips), in fp32; masks are
    kept as RLE only, batch by batch (full-size float masks of a whole test set would not fit in memory)."""
    model.eval()
    images, anns, segm, bbox = [], [], [], []
    for start in range(0, len(dataset), batch_size):
        batch = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        outputs = model([image.to(device) for image, _ in batch])
        for (image, tgt), out in zip(batch, outputs):
            images.append({"id": tgt["image_id"], "height": image.shape[-2], "width": image.shape[-1]})
            anns += annotations(tgt, len(anns) + 1)
            found = detections([{k: v.cpu() for k, v in out.items()}], [tgt["image_id"]])
            segm.extend(found[0])
            bbox.extend(found[1])
    return summary(coco(images, anns, model.roi_heads.box_predictor.cls_score.out_features), segm, bbox, log)
