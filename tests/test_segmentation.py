"""VOC2012 instance segmentation: the official layout read back as drawn, pycocotools' AP, torchvision's
Mask R-CNN built on a masked backbone (pruned weights stay zero), resume, and the whole job."""

import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from sparserobust.data import fabricate_voc as fabricate
from sparserobust.data import voc
from sparserobust.foundations import provenance
from sparserobust.lottery import masks
from sparserobust.models import registry
from sparserobust.segmentation import coco_eval, model, stage, train
from sparserobust.training import checkpoint

ARCH = "small_resnet:8-16"
DET = {"fpn_channels": 8, "representation": 16, "mask_channels": [8], "min_size": 32, "max_size": 32,
       "anchor_sizes": [8, 16, 32], "rpn_pre_nms_top_n_train": 50, "rpn_pre_nms_top_n_test": 50,
       "rpn_post_nms_top_n_train": 20, "rpn_post_nms_top_n_test": 20, "rpn_batch_size_per_image": 32,
       "box_batch_size_per_image": 16, "box_detections_per_img": 10, "trainable_layers": 5}
HP = {"epochs": 2, "lr": 0.02, "batch_size": 2, "momentum": 0.9, "weight_decay": 1e-4, "milestones": [1],
      "warmup_iters": 2, "warmup_factor": 0.1}


def layout(root, n_train=6, n_test=3, size=(32, 32), num_classes=5):
    drawn = fabricate.write(root, num_classes=num_classes, n_train=n_train, n_test=n_test, size=size, seed=1)
    spec = {"key": "voc2012", "root": str(root), "num_classes": num_classes, "train_set": "train", "test_set": "val",
            "mean": [0.5] * 3, "std": [0.25] * 3}
    return spec, drawn


def test_the_loader_reads_back_what_was_drawn(tmp_path):
    spec, drawn = layout(tmp_path, size=(48, 40))
    assert voc.check(spec) == {"images": {"train": 6, "test": 3}} == {"images": drawn["images"]}
    data = voc.VOCInstances(spec, "train")
    assert data.ids == [f"2007_{i:06d}" for i in range(6)]
    for index, image_id in enumerate(data.ids):
        objects = drawn["objects"][image_id]
        image, tgt = data[index]
        assert image.shape == (3, 40, 48) and image.dtype == torch.float32 and 0 <= image.min() < image.max() <= 1
        assert tgt["labels"].tolist() == [o["label"] for o in objects] and tgt["image_id"] == index
        assert tgt["boxes"].tolist() == [[x0, y0, x1 + 1, y1 + 1] for x0, y0, x1, y1 in (o["box"] for o in objects)]
        assert tgt["masks"].shape == (len(objects), 40, 48) and tgt["masks"].dtype == torch.uint8
        for obj, mask in zip(objects, tgt["masks"]):
            if obj["shape"] == "rectangle":
                x0, y0, x1, y1 = obj["box"]
                assert mask.sum() == (x1 - x0 + 1) * (y1 - y0 + 1) == mask[y0:y1 + 1, x0:x1 + 1].sum()
        border = np.array(Image.open(tmp_path / "SegmentationObject" / f"{image_id}.png"))
        assert (border == voc.VOID).any()
    plain, (x0, y0, x1, y1) = data[0], drawn["objects"][data.ids[0]][0]["box"]
    data.generator, seen = torch.Generator().manual_seed(0), set()
    for _ in range(12):
        image, tgt = data[0]
        flipped = torch.equal(image, plain[0].flip(-1))
        seen.add(flipped)
        assert flipped or torch.equal(image, plain[0])
        assert torch.equal(tgt["masks"], plain[1]["masks"].flip(-1) if flipped else plain[1]["masks"])
        assert tgt["boxes"][0].tolist() == ([48 - x1 - 1, y0, 48 - x0, y1 + 1] if flipped else [x0, y0, x1 + 1, y1 + 1])
    assert seen == {True, False}


def test_the_class_of_an_instance_is_its_pixels_majority_and_bad_layouts_are_refused(tmp_path):
    spec, _ = layout(tmp_path, n_train=2, n_test=1)
    obj, cls = np.zeros((6, 8), np.uint8), np.zeros((6, 8), np.uint8)
    obj[1:3, 1:4], cls[1:3, 1:4] = 1, 3
    cls[1, 1], obj[3, 1:4], cls[3, 1:4] = 2, voc.VOID, voc.VOID  # one stray pixel of class 2 and a void border
    obj[4, 6], cls[4, 6] = 2, 4
    for array, folder in ((obj, "SegmentationObject"), (cls, "SegmentationClass")):
        fabricate.png(array, tmp_path / folder / "2007_000000.png")
    found, labels = voc.instances(tmp_path, "2007_000000")
    assert labels.tolist() == [3, 4] and voc.boxes_of(found).tolist() == [[1, 1, 4, 3], [6, 4, 7, 5]]
    with pytest.raises(ValueError, match=r"datasets\.voc2012\.num_classes"):
        voc.check({**spec, "num_classes": 4})
    (tmp_path / "JPEGImages" / "2007_000001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc2012\.root: .*2007_000001\.jpg is missing"):
        voc.check(spec)
    with pytest.raises(FileNotFoundError, match=r"datasets\.voc2012\.root: .* lacks JPEGImages, SegmentationObject"):
        voc.check({**spec, "root": str(tmp_path / "missing")})


def test_pycocotools_scores_the_truth_100_and_a_perturbed_prediction_lower(tmp_path):
    spec, _ = layout(tmp_path, n_train=1, n_test=6)
    data = voc.VOCInstances(spec, "val")
    targets = [data.target(i) for i in range(len(data))]
    gt = coco_eval.ground_truth(targets, [(32, 32)] * len(targets), 5)
    ids = [t["image_id"] for t in targets]

    def predicted(shift=0, wrong=False):
        out = [{"boxes": t["boxes"], "labels": t["labels"].clone(), "scores": torch.ones(len(t["labels"])),
                "masks": t["masks"][:, None].float().roll(shift, -1)} for t in targets]
        out[0]["labels"][0] = out[0]["labels"][0] % 4 + 1 if wrong else out[0]["labels"][0]
        return out

    assert coco_eval.scores(gt, predicted(), ids) == {"mask_ap": 100, "mask_ap50": 100, "box_ap": 100, "box_ap50": 100}
    shifted = coco_eval.scores(gt, predicted(shift=3), ids)
    assert shifted["mask_ap"] < 100 and shifted["box_ap"] == 100  # masks and boxes are scored apart
    assert coco_eval.scores(gt, predicted(wrong=True), ids)["mask_ap"] < 100
    empty = [{k: v[:0] for k, v in p.items()} for p in predicted()]
    assert coco_eval.scores(gt, empty, ids) == {"mask_ap": 0, "mask_ap50": 0, "box_ap": 0, "box_ap50": 0}


def test_the_resnet50_detector_is_torchvisions_maskrcnn_resnet50_fpn():
    from torchvision.models.detection import maskrcnn_resnet50_fpn
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops.misc import FrozenBatchNorm2d

    reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=21).eval()
    state = {k[len("backbone.body."):]: v for k, v in reference.state_dict().items() if k.startswith("backbone.body.")}
    ours = model.build("resnet50", 21, state, {}, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    shapes = {k: v.shape for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert shapes == {k: v.shape for k, v in ours.state_dict().items()}
    ours.backbone.fpn.load_state_dict(reference.backbone.fpn.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours.backbone(x).values(), reference.backbone(x).values()))
    for n in (0, 3, 5):
        tv = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d, trainable_layers=n)
        got, _ = model.backbone("resnet50", state, {"fpn_channels": 256}, n)
        assert {k: p.requires_grad for k, p in got.named_parameters()} == {k: p.requires_grad for k, p in tv.named_parameters()}


def tiny_detector(seed=0):
    torch.manual_seed(seed)
    net = registry.build(ARCH, 1000)
    gen = torch.Generator().manual_seed(seed)
    ticket = {n: torch.rand(p.shape, generator=gen) < 0.5 for n, p in net.named_parameters() if n in masks.prunable_names(net)}
    return net, ticket, model.build(ARCH, 5, net.state_dict(), DET, [0.5] * 3, [0.25] * 3)


def test_pruned_backbone_weights_stay_zero_while_the_others_train(tmp_path):
    spec, _ = layout(tmp_path)
    net, ticket, det = tiny_detector()
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in det.modules()) == 0
    mask = model.backbone_mask(det, ticket, "t.pt")
    assert sorted(mask) == sorted(f"backbone.body.{n}" for n in ticket)
    before = {n: p.detach().clone() for n, p in det.named_parameters()}
    history = train.train(det, voc.VOCInstances(spec, "train"), {**HP, "epochs": 1}, torch.device("cpu"), 0, mask)
    assert len(history) == 1 and history[0]["lr"] == HP["lr"] and np.isfinite(history[0]["loss"])
    params = dict(det.named_parameters())
    for name, m in mask.items():
        assert not params[name][~m].any() and before[name][~m].any()  # pruned: zero now, not before
        assert (params[name][m] != before[name][m]).all(), name  # every kept weight trained
    with pytest.raises(ValueError, match=r"segmentation\.detector: unknown settings \['min_sise'\]"):
        model.build(ARCH, 5, net.state_dict(), {**DET, "min_sise": 32}, [0.5] * 3, [0.25] * 3)
    with pytest.raises(ValueError, match=r"t\.pt: the ticket's layer1\.0\.conv1\.weight"):
        model.backbone_mask(det, {"layer1.0.conv1.weight": torch.ones(3, 3, 3, 3, dtype=torch.bool)}, "t.pt")


def test_learning_rate_follows_the_detection_references():
    hp = {"lr": 0.02, "milestones": [16, 22], "warmup_iters": 1000, "warmup_factor": 0.001}
    assert train.learning_rate(hp, 0, 0, 92) == pytest.approx(0.02 * 0.001)
    assert train.learning_rate(hp, 0, 45, 92) == pytest.approx(0.02 * (0.001 + 0.999 * 45 / 91))
    assert train.learning_rate(hp, 0, 91, 92) == train.learning_rate(hp, 15, 0, 92) == 0.02
    assert train.learning_rate(hp, 16, 0, 92) == pytest.approx(0.002)
    assert train.learning_rate(hp, 25, 50, 92) == pytest.approx(0.0002)


def test_a_preempted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    spec, _ = layout(tmp_path)
    data = voc.VOCInstances(spec, "train")

    def run(path=None):
        _, ticket, det = tiny_detector()
        history = train.train(det, data, HP, torch.device("cpu"), 3, model.backbone_mask(det, ticket, "t"), path, lambda m: None)
        return history, det.state_dict()

    ref_history, ref_state = run()
    path, handler, step = tmp_path / "job.resume", signal.getsignal(signal.SIGTERM), train.one_step
    calls = []

    def one_step(*args):
        calls.append(1)
        if len(calls) == 5:  # the second step of the second epoch
            os.kill(os.getpid(), signal.SIGTERM)
        return step(*args)

    monkeypatch.setattr(train, "one_step", one_step)
    try:
        with pytest.raises(SystemExit) as stop:
            run(path)
        assert stop.value.code == 143 and provenance.load_torch(path)["batch"] == 2
        history, state = run(path)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert len(calls) == 6 and all(torch.equal(v, ref_state[k]) for k, v in state.items())
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in history] == \
        [{k: v for k, v in h.items() if k != "seconds"} for h in ref_history]


def test_the_state_is_saved_on_the_interval_and_resumes_from_inside_an_epoch(tmp_path, monkeypatch):
    spec, _ = layout(tmp_path)
    data = voc.VOCInstances(spec, "train")
    minutes, step, save, saved = [0.0], train.one_step, checkpoint.Checkpointer.save, []

    def one_step(*args):  # the interval's clock: a minute per optimiser step
        minutes[0] += 1
        return step(*args)

    def spy(self, state):
        save(self, state)
        saved.append((state["epoch"], state["batch"]))
        shutil.copy(self.path, tmp_path / f"save{len(saved)}.resume")

    def run(path, every):
        _, ticket, det = tiny_detector()
        history = train.train(det, data, HP, torch.device("cpu"), 3, model.backbone_mask(det, ticket, "t"), path,
                              lambda m: None, every)
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history], det.state_dict()

    monkeypatch.setattr(checkpoint, "now", lambda: 60 * minutes[0])
    monkeypatch.setattr(train, "one_step", one_step)
    monkeypatch.setattr(checkpoint.Checkpointer, "save", spy)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        ref_history, ref_state = run(tmp_path / "every_epoch.resume", 0)
        assert saved == [(1, 0), (2, 0)]  # 0: after every epoch
        saved.clear()
        history, state = run(tmp_path / "interval.resume", 1.5)
        assert saved == [(0, 2), (1, 1), (2, 0)]  # 3 steps an epoch, a minute each: due after 2, 4 and 6 minutes
        assert history == ref_history and all(torch.equal(v, ref_state[k]) for k, v in state.items())
        for n in (1, 2):  # resumed from the saves inside an epoch
            path = tmp_path / f"resumed{n}.resume"
            shutil.copy(tmp_path / f"save{n}.resume", path)
            history, state = run(path, 1.5)
            assert history == ref_history and all(torch.equal(v, ref_state[k]) for k, v in state.items()), n
    finally:
        signal.signal(signal.SIGTERM, handler)


def test_the_segmentation_job_writes_its_record(tmp_path):
    spec, _ = layout(tmp_path / "voc")
    net, ticket, _ = tiny_detector()
    provenance.save_torch(tmp_path / "weights.pt", {"state_dict": net.state_dict(), "provenance": {}})
    provenance.save_torch(tmp_path / "ticket.pt", masks.to_file(ticket, {}))
    job = {"init": "demo", "pruner": "random", "round": 1, "sparsity": 0.5, "seed": 0, "arch": ARCH, "device": "cpu",
           "dataset": {**spec, "kind": "voc", "test_size": 2}, "train": {**HP, "epochs": 1}, "detector": DET}
    out = tmp_path / "seg.json"
    stage.run(job, tmp_path / "weights.pt", tmp_path / "ticket.pt", out, lambda m: None)
    record = json.loads(out.read_text())
    assert {"init", "pruner", "round", "sparsity", "dataset", "data", "regime", "seed", "n_train", "test_mask_ap",
            "test_mask_ap50", "test_box_ap", "test_box_ap50", "backbone_zero_ok", "history", "seconds", "device",
            "provenance"} <= set(record)
    assert record["sparsity"] == pytest.approx(masks.sparsity(ticket)) and record["n_train"] == 6
    assert record["regime"] == "segmentation" and record["data"] == "full" and record["backbone_zero_ok"] is True
    assert all(0 <= record[f"test_{k}"] <= 100 for k in ("mask_ap", "mask_ap50", "box_ap", "box_ap50"))
    assert record["provenance"]["ticket"] == str(tmp_path / "ticket.pt") and not os.path.exists(f"{out}.resume")
