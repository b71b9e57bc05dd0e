"""The segmentation job: a ticket's backbone (pre-trained weights under its mask) in torchvision's
Mask R-CNN, fine-tuned on VOC2012's train list and evaluated on its val list with pycocotools."""

import time

import torch

from ..data import voc
from ..foundations import hparams, provenance
from ..lottery import masks
from ..models import pretrained
from ..training import checkpoint, engine
from . import coco_eval, model, train


def datasets(ds):
    return (voc.VOCInstances(ds, ds["train_set"], ds.get("train_size")),
            voc.VOCInstances(ds, ds["test_set"], ds.get("test_size")))


def backbone_zero_ok(net, mask):
    params = dict(net.named_parameters())
    return all(not params[n][~m.to(params[n].device)].any() for n, m in mask.items())


def run(spec, weights_path, ticket_path, out, log):
    start = time.time()
    ds, seed = spec["dataset"], spec["seed"]
    train_set, test_set = datasets(ds)
    torch.manual_seed(seed)
    net = model.build(spec["arch"], ds["num_classes"], pretrained.load_canonical(weights_path),
                      {**spec["detector"], "trainable_layers": spec["train"].get("trainable_layers", 3)}, ds["mean"], ds["std"])
    ticket = masks.load(ticket_path)
    mask = model.backbone_mask(net, ticket, str(ticket_path))
    device = engine.pick_device(spec["device"])
    minutes = spec.get("engine", {}).get("checkpoint_minutes", hparams.CHECKPOINT_MINUTES)
    history = train.train(net, train_set, spec["train"], device, seed, mask, checkpoint.resume_path(out), log, minutes)
    test = coco_eval.evaluate(net, test_set, device, spec["train"].get("eval_batch_size", spec["train"]["batch_size"]), log)
    if not backbone_zero_ok(net, mask):
        raise RuntimeError(f"{ticket_path}: pruned backbone weights are not zero after training")
    record = {"init": spec["init"], "pruner": spec["pruner"], "round": spec["round"], "sparsity": masks.sparsity(ticket),
              "dataset": ds["key"], "data": "full", "regime": "segmentation", "seed": seed, "n_train": len(train_set),
              **{f"test_{k}": v for k, v in test.items()}, "backbone_zero_ok": True, "history": history,
              "seconds": time.time() - start, "device": str(device),
              "provenance": provenance.record(spec, seed, weights=str(weights_path), ticket=str(ticket_path))}
    provenance.write_json(out, record)
    checkpoint.finished(out)
    log(f"test: {test}")
