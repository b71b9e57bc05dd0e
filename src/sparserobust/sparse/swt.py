"""Sparsity Winning Twice: dense, Robust Bird, Flying Bird and Flying Bird+ adversarial training
from scratch, optionally with knowledge distillation + SWA, on the one training engine."""

import dataclasses
import math
import time

import torch

from ..data import arrays as data
from ..foundations import hparams, provenance
from ..lottery import masks
from ..models import flops, pretrained
from ..models import registry as models
from ..training import checkpoint, engine, evaluate
from . import birds as sparse

METHODS = ("dense", "robust_bird", "flying_bird", "flying_bird_plus")


class FlyingBird:
    """Prune-and-grow every `update_every` iterations at a cosine-annealed rate; with `adaptive`
    (Flying Bird+), extra prune / extra grow from the gap and the validation robust loss."""

    def __init__(self, net, mask, cfg, total_steps, seed, adaptive=None):
        self.net, self.mask, self.cfg, self.total = net, mask, cfg, total_steps
        self.gen = torch.Generator().manual_seed(seed)
        self.adaptive = adaptive
        self.stop = False
        self.density_log = []

    def after_step(self, step, opt):
        if step % self.cfg["update_every"]:
            return
        rate = sparse.cosine_rate(step, self.total, self.cfg["rate_start"], self.cfg["rate_end"])
        extra, grow = self.adaptive.decision() if self.adaptive else (0.0, 1.0)
        params = dict(self.net.named_parameters())
        grads = {n: params[n].grad for n in self.mask} if self.cfg.get("regrow") == "gradient" else None
        new = sparse.prune_and_grow(params, {n: m.cpu() for n, m in self.mask.items()}, rate, self.gen,
                                    grads, extra * rate, grow)
        for n, m in new.items():
            self.mask[n] = m.to(self.mask[n].device)
        self.density_log.append({"step": step, "density": masks.density(self.mask), "rate": rate,
                                 "extra_prune": extra * rate, "grow_factor": grow})

    def after_epoch(self, rec):
        if self.adaptive is not None and "val_ra" in rec:
            self.adaptive.observe(rec["epoch"], rec["train_acc"] - rec["val_ra"], rec["val_ra_loss"])

    def state(self):
        out = {"gen": self.gen.get_state(), "density_log": self.density_log}
        if self.adaptive is not None:
            out["adaptive"] = {"gaps": list(self.adaptive.gaps), "losses": list(self.adaptive.losses),
                               "epoch": getattr(self.adaptive, "epoch", 0)}
        return out

    def set_state(self, state):
        self.gen.set_state(state["gen"])
        self.density_log[:] = state["density_log"]
        if self.adaptive is not None:
            self.adaptive.gaps.extend(state["adaptive"]["gaps"])
            self.adaptive.losses.extend(state["adaptive"]["losses"])
            self.adaptive.epoch = state["adaptive"]["epoch"]


class EarlyBirdWatch:
    """Robust Bird stage 1: a global conv mask at the target density after every epoch; stop
    when the early-ticket test passes."""

    def __init__(self, net, density, window, threshold):
        self.net, self.density = net, density
        self.test = sparse.EarlyTicket(window, threshold)
        self.names = masks.prunable_names(net)
        self.stop, self.found_epoch = False, None

    def after_step(self, step, opt):
        pass

    def after_epoch(self, rec):
        if self.test.add(sparse.global_magnitude_mask(self.net, self.names, self.density)) and not self.stop:
            self.stop, self.found_epoch = True, rec["epoch"]

    def state(self):
        return {"masks": list(self.test.masks), "stop": self.stop, "found_epoch": self.found_epoch}

    def set_state(self, state):
        self.test.masks.extend(state["masks"])
        self.stop, self.found_epoch = state["stop"], state["found_epoch"]


def _densities(mask):
    """(layer densities or None, overall density) of a mask; a dense run has no mask."""
    return (masks.layer_densities(mask), masks.density(mask)) if mask is not None else (None, 1.0)


def run(spec, out, log, teacher_path=None, model_out=None):
    start = time.time()
    resume = checkpoint.resume_path(out)
    torch.manual_seed(spec["seed"])
    ds = spec["dataset"]
    device = engine.pick_device(spec["device"])
    splits = {k: data.to_device(v, device) for k, v in data.load_splits(ds).items()}  # once; the engine reuses them
    model = models.prepare(models.network(spec, ds["num_classes"], ds), device)
    hp = hparams.from_spec(spec, spec["train"])
    shape = tuple(splits["train"].x.shape[1:])
    layer_flops, dense_total = flops.dense_layer_flops(model.net, shape)
    names = sparse.sparse_names(model.net)
    method, density = spec["method"], spec["density"]
    steps_per_epoch = math.ceil(len(splits["train"]) / hp.batch_size)
    if hp.steps_per_epoch:  # a capped epoch trains fewer steps and images
        steps_per_epoch = min(steps_per_epoch, hp.steps_per_epoch)
    images = min(len(splits["train"]), steps_per_epoch * hp.batch_size)  # trained per epoch
    epoch_flops, extra_flops, info = [], 0.0, {}
    mask, sparsifier = None, None
    if method == "robust_bird":
        rb = spec["robust_bird"]
        stage1 = hparams.from_spec(spec, rb["stage1"])
        watch = EarlyBirdWatch(model.net, density, rb["window"], rb["threshold"])
        hist1, _, _ = engine.train(model, splits, dataclasses.replace(stage1, select="last"), device,
                                   spec["seed"], log=log, checkpoint=checkpoint.resume_path(f"{out}.stage1"),
                                   hooks=engine.Hooks(sparsifier=watch, extra_state=(watch.state, watch.set_state)))
        info["ticket_epoch"] = watch.found_epoch or len(hist1)
        extra_flops = flops.training_flops([dense_total] * len(hist1), images, 0)
        mask = sparse.global_magnitude_mask(model.net, names, density)
    elif method in ("flying_bird", "flying_bird_plus"):
        gen = torch.Generator().manual_seed(spec["seed"])
        params = dict(model.net.named_parameters())
        dens = sparse.igq_densities({n: params[n].numel() for n in names}, density)
        mask = sparse.random_mask({n: tuple(params[n].shape) for n in names}, dens, gen)
        fb = spec["flying_bird"]
        adaptive = None
        if method == "flying_bird_plus":
            plus = spec["flying_bird_plus"]
            adaptive = sparse.AdaptiveControl(plus["start_epoch"], plus["window"], plus["extra_prune"],
                                              plus["grow_factor"])
        mask = {n: m.to(device) for n, m in mask.items()}
        sparsifier = FlyingBird(model.net, mask, fb, hp.epochs * steps_per_epoch, spec["seed"], adaptive)
    elif method != "dense":
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    teacher = None
    if teacher_path:
        teacher = pretrained.load_trained(spec, teacher_path, device)
    test = splits["test"]
    autocast = engine.autocast_for(device, hp.precision)
    per_epoch = []
    swa = SWA(model, spec.get("swa_start")) if spec.get("swa_start") is not None else None

    def on_epoch(rec, model):
        dens, rec["density"] = _densities(mask)  # the sparsifier changes `mask` in place
        epoch_flops.append(flops.inference_flops(layer_flops, dense_total, dens))
        rec.update({f"test_{k}": v for k, v in evaluate.report(model, test, device, hp, autocast, spec["seed"]).items()})
        if swa is not None:
            swa.update(rec["epoch"], model)
        per_epoch.append(rec)

    def get_state():
        return {"per_epoch": per_epoch, "epoch_flops": epoch_flops,
                "sparsifier": sparsifier.state() if sparsifier is not None else None,
                "swa": swa.state() if swa is not None else None}

    def set_state(state):
        per_epoch[:], epoch_flops[:] = state["per_epoch"], state["epoch_flops"]
        if sparsifier is not None:
            sparsifier.set_state(state["sparsifier"])
        if swa is not None:
            swa.set_state(state["swa"])

    history, best, best_state = engine.train(model, splits, hp, device, spec["seed"], mask=mask, log=log, checkpoint=resume,
                                             hooks=engine.Hooks(sparsifier, teacher, on_epoch, (get_state, set_state)))
    final_state = {k: v.clone() for k, v in model.state_dict().items()}
    if swa is not None and swa.count:
        final_state = swa.finish(model, splits["train"], hp, device, mask)
    results = {}
    train_eval = splits["train"]
    for tag, state in (("best", best_state), ("final", final_state)):
        model.load_state_dict(state)
        t = evaluate.report(model, test, device, hp, autocast, spec["seed"])
        tr = evaluate.report(model, train_eval, device, hp, autocast, spec["seed"])
        results.update({f"{tag}_test_sa": t["sa"], f"{tag}_test_ra": t["ra"], f"{tag}_train_ra": tr["ra"],
                        f"{tag}_gap": tr["ra"] - t["ra"]})
    results["robust_overfitting"] = results["best_test_ra"] - results["final_test_ra"]
    attack_steps = hp.train_attack.steps if hp.train_attack else 0
    results["train_flops"] = extra_flops + flops.training_flops(epoch_flops, images, attack_steps)
    results["dense_train_flops"] = flops.training_flops([dense_total] * hp.epochs, images,
                                                        attack_steps)
    final_d, final_density = _densities(mask)
    results["inference_flops"] = flops.inference_flops(layer_flops, dense_total, final_d)
    results["dense_inference_flops"] = dense_total
    results["final_density"] = final_density
    record = {"arch": spec["arch"], "dataset": ds["key"], "method": spec["method_label"], "seed": spec["seed"],
              "density_target": density if method != "dense" else 1.0, "best_epoch": best["epoch"] if best else 0,
              **info, **results, "history": per_epoch,
              "density_log": getattr(sparsifier, "density_log", []), "seconds": time.time() - start,
              "device": str(device), "provenance": provenance.record(spec, spec["seed"], teacher=teacher_path)}
    if model_out:
        provenance.save_torch(model_out, {"state_dict": {k: v.cpu() for k, v in best_state.items()},
                                          "provenance": record["provenance"]})
    provenance.write_json(out, record)
    checkpoint.finished(out)
    checkpoint.finished(f"{out}.stage1")  # Robust Bird's stage 1 (resume path {out}.stage1.resume)
    log(f"best RA {results['best_test_ra']:.2f} final RA {results['final_test_ra']:.2f} "
        f"gap {results['final_gap']:.2f} density {results['final_density']:.3f}")


class SWA:
    """Stochastic weight averaging (torch.optim.swa_utils) from epoch `start`; BN statistics
    recomputed on the training data at the end; the final mask applied to the average."""

    def __init__(self, model, start):
        from torch.optim.swa_utils import AveragedModel

        self.avg = AveragedModel(model)
        self.start, self.count = start, 0

    def state(self):
        return {"avg": self.avg.state_dict(), "count": self.count}

    def set_state(self, state):
        self.avg.load_state_dict(state["avg"])
        self.count = state["count"]

    def update(self, epoch, model):
        if epoch >= self.start:
            self.avg.update_parameters(model)
            self.count += 1

    def finish(self, model, train, hp, device, mask):
        model.load_state_dict(self.avg.module.state_dict())
        if mask is not None:
            masks.apply(model.net, mask)
        with torch.no_grad():
            for mod in model.modules():
                if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                    mod.reset_running_stats()
                    mod.momentum = None
            model.train()
            for x, _ in data.batches(train, hp.batch_size, device, hp.augment,
                                     torch.Generator().manual_seed(0), shuffle=True):
                model(x)
        return {k: v.clone() for k, v in model.state_dict().items()}
