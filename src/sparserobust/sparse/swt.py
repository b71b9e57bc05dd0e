"""Sparsity Winning Twice: dense, Robust Bird, Flying Bird and Flying Bird+ adversarial training
from scratch, optionally with distillation from two teachers + SWA (Chen et al. 2021), on the one
training engine. "standard" is the dense model trained without attack: the standard teacher."""

import dataclasses
import math
import time

import torch

from ..data import arrays as data
from ..foundations import hparams, provenance
from ..lottery import masks
from ..models import flops, pretrained
from ..models import registry as models
from ..training import autoattack, checkpoint, engine, evaluate, selection
from . import birds as sparse
from . import outcome
from .dynamic import EarlyBirdWatch, FlyingBird

METHODS = ("dense", "standard", "robust_bird", "flying_bird", "flying_bird_plus")


def _densities(mask):
    """(layer densities or None, overall density) of a mask; a dense run has no mask. Exact counts over sizes
    (a float32 mean of a large layer's mask is off in the 8th digit, and so would the FLOPs be)."""
    if mask is None:
        return None, 1.0
    return {n: int(m.sum()) / m.numel() for n, m in mask.items()}, masks.density(mask)


def train_hparams(spec):
    """The run's TrainHParams; Robust Bird's stage 2 has its own milestones (train_eb.py reuses
    --decreasing_lr, default 50,150, for both stages)."""
    hp = hparams.from_spec(spec, spec["train"])
    milestones = spec.get("robust_bird", {}).get("stage2_milestones") if spec["method"] == "robust_bird" else None
    return dataclasses.replace(hp, milestones=tuple(milestones)) if milestones is not None else hp


def _images_per_epoch(hp, n):
    """(optimiser steps, images trained) per epoch of `n` training images: all, or hp.steps_per_epoch batches."""
    steps = math.ceil(n / hp.batch_size)
    if hp.steps_per_epoch:  # a capped epoch trains fewer steps and images
        steps = min(steps, hp.steps_per_epoch)
    return steps, min(n, steps * hp.batch_size)


def _robust_bird(spec, model, splits, device, out, log, density, names):
    """Stage 1 (clean training until the early-ticket test passes), then the global magnitude mask."""
    rb = spec["robust_bird"]
    stage1 = hparams.from_spec(spec, rb["stage1"])
    watch = EarlyBirdWatch(model.net, density, rb["window"], rb["threshold"])
    hist1, _, _ = engine.train(model, splits, dataclasses.replace(stage1, select="last"), device, spec["seed"],
                               log=log, checkpoint=checkpoint.resume_path(f"{out}.stage1"),
                               hooks=engine.Hooks(sparsifier=watch, extra_state=(watch.state, watch.set_state)))
    info = {"ticket_epoch": watch.found_epoch or len(hist1), "stage1_epochs": len(hist1),
            "stage1_images": _images_per_epoch(stage1, len(splits["train"]))[1]}  # its own batches
    return sparse.global_magnitude_mask(model.net, names, density), info


def _flying_bird(spec, model, device, density, names, total_steps):
    gen = torch.Generator().manual_seed(spec["seed"])
    params = dict(model.net.named_parameters())
    dens = sparse.igq_densities({n: params[n].numel() for n in names}, density)
    mask = sparse.random_mask({n: tuple(params[n].shape) for n in names}, dens, gen)
    adaptive = None
    if spec["method"] == "flying_bird_plus":
        plus = spec["flying_bird_plus"]
        adaptive = sparse.AdaptiveControl(plus["start_epoch"], plus["window"], plus["extra_prune"], plus["grow_factor"])
    mask = {n: m.to(device) for n, m in mask.items()}
    return mask, FlyingBird(model.net, mask, spec["flying_bird"], total_steps, spec["seed"], adaptive)


def run(spec, out, log, teacher_paths=(), model_out=None):
    start = time.time()
    resume = checkpoint.resume_path(out)
    torch.manual_seed(spec["seed"])
    ds = spec["dataset"]
    device = engine.pick_device(spec["device"])
    splits = {k: data.to_device(v, device) for k, v in data.load_splits(ds).items()}  # once; the engine reuses them
    model = models.prepare(models.network(spec, ds["num_classes"], ds), device)
    hp = train_hparams(spec)
    layer_flops, dense_total = flops.dense_layer_flops(model.net, tuple(splits["train"].x.shape[1:]))
    names = sparse.sparse_names(model.net)
    method, density = spec["method"], spec["density"]
    steps_per_epoch, images = _images_per_epoch(hp, len(splits["train"]))
    mask, sparsifier, info, stage1_images = None, None, {}, 0
    if method == "robust_bird":
        mask, info = _robust_bird(spec, model, splits, device, out, log, density, names)
        stage1_images = info.pop("stage1_images")
    elif method in ("flying_bird", "flying_bird_plus"):
        mask, sparsifier = _flying_bird(spec, model, device, density, names, hp.epochs * steps_per_epoch)
    elif method not in ("dense", "standard"):
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    teachers = tuple(pretrained.load_trained(spec, p, device) for p in teacher_paths)
    if len(teachers) != len(hp.kd_weights):
        raise ValueError(f"{len(teacher_paths)} teacher files for {len(hp.kd_weights)} distillation weights")
    test, swa, swa_best = splits["test"], None, selection.BestOf("swa_val_ra")  # the average's best epoch
    if spec.get("swa"):
        from .swa import SWA  # torch.optim (and its torch._dynamo import) only for SWA runs

        swa = SWA(model, spec["swa"]["start"], spec["swa"].get("every", 1))
    per_epoch, epoch_densities = [], []

    def on_epoch(rec, model):
        dens, rec["density"] = _densities(mask)  # the sparsifier changes `mask` in place
        epoch_densities.append((dens, rec["density"]))
        rec.update({f"test_{k}": v for k, v in evaluate.report(model, test, device, hp, spec["seed"]).items()})
        if swa is not None and swa.due(rec["epoch"]):
            swa.update(model)
            averaged = swa.evaluated(splits["train"], hp, device, mask, spec["seed"])
            for split in ("val", "test"):
                rec.update({f"swa_{split}_{k}": v for k, v in
                            evaluate.report(averaged, splits[split], device, hp, spec["seed"]).items()})
            swa_best.on_epoch(rec, averaged)
        per_epoch.append(rec)

    def get_state():
        return {"per_epoch": per_epoch, "epoch_densities": epoch_densities, "swa_best": swa_best.get(),
                "sparsifier": sparsifier.state() if sparsifier is not None else None,
                "swa": swa.state() if swa is not None else None}

    def set_state(state):
        if "epoch_densities" not in state or (sparsifier is not None and "epochs_done" not in state["sparsifier"]):
            raise ValueError(f"{resume}: written by an older version of this code; delete it to start the run again")
        per_epoch[:], epoch_densities[:] = state["per_epoch"], state["epoch_densities"]
        swa_best.set(state["swa_best"])
        if sparsifier is not None:
            sparsifier.set_state(state["sparsifier"])
        if swa is not None:
            swa.set_state(state["swa"])

    _, best, best_state = engine.train(model, splits, hp, device, spec["seed"], mask=mask, log=log, checkpoint=resume,
                                       hooks=engine.Hooks(sparsifier, teachers, on_epoch, (get_state, set_state)))
    final_state = {k: v.clone() for k, v in model.state_dict().items()}
    best_epoch = best["epoch"] if best else 0
    averaged = swa_best.best is not None
    if averaged:  # distillation + SWA runs report the averaged model (Chen et al. evaluate it on its own)
        best_state, best_epoch = swa_best.state, swa_best.best["epoch"]
        final_state = swa.evaluated(splits["train"], hp, device, mask, spec["seed"]).state_dict()
    results = _final_metrics(spec, model, splits, device, hp, best_state, final_state)
    results.update(outcome.definitions(per_epoch, results, averaged=averaged))
    attack_steps = hp.train_attack.steps if hp.train_attack else 0
    final_d, final_density = _densities(mask)
    results.update(outcome.flop_counts(layer_flops, dense_total, epoch_densities, final_d, final_density, images,
                                       attack_steps, hp.epochs, info.get("stage1_epochs", 0), stage1_images))
    results["final_density"] = final_density
    record = {"arch": spec["arch"], "dataset": ds["key"], "method": spec["method_label"], "seed": spec["seed"],
              "density_target": density if mask is not None else 1.0, "best_epoch": best_epoch,
              **info, **results, "history": per_epoch,
              "density_log": getattr(sparsifier, "density_log", []), "seconds": time.time() - start,
              "device": str(device), "provenance": provenance.record(spec, spec["seed"], teachers=list(teacher_paths))}
    if model_out:
        provenance.save_torch(model_out, {"state_dict": {k: v.cpu() for k, v in best_state.items()},
                                          "provenance": record["provenance"]})
    provenance.write_json(out, record)
    checkpoint.finished(out)
    checkpoint.finished(f"{out}.stage1")  # Robust Bird's stage 1 (resume path {out}.stage1.resume)
    log(f"best RA {results.get('best_test_ra', float('nan')):.2f} final RA {results.get('final_test_ra', float('nan')):.2f} "
        f"gap {results.get('final_gap', float('nan')):.2f} density {final_density:.3f}")


def _final_metrics(spec, model, splits, device, hp, best_state, final_state):
    """Test SA/RA, PGD RA on the unaugmented training split, the gap, robust overfitting and, when
    configured, AutoAttack, of the selected (best) and the final model."""
    results = {}
    aa = autoattack.from_spec(spec["autoattack"], hp.eval_attack) if spec.get("autoattack") else None
    for tag, state in (("best", best_state), ("final", final_state)):
        model.load_state_dict(state)
        t = evaluate.report(model, splits["test"], device, hp, spec["seed"])
        results.update({f"{tag}_test_sa": t["sa"]})
        if "ra" not in t:
            continue
        tr = evaluate.report(model, splits["train"], device, hp, spec["seed"])
        results.update({f"{tag}_test_ra": t["ra"], f"{tag}_train_ra": tr["ra"], f"{tag}_gap": tr["ra"] - t["ra"]})
        if aa is not None:  # AutoAttack and the eval PGD on the same images
            got = autoattack.robust_accuracy(model, splits["test"], device, aa, spec["dataset"]["num_classes"],
                                             hp.eval_view, hp.eval_attack)
            results.update({f"{tag}_test_aa": got["aa"], f"{tag}_test_aa_pgd": got["pgd"],
                            "aa_images": min(aa.n or len(splits["test"]), len(splits["test"]))})
    if "best_test_ra" in results:
        results["robust_overfitting"] = results["best_test_ra"] - results["final_test_ra"]
    return results
