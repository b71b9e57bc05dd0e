"""The sparsifiers the engine calls after every optimiser step and epoch: Flying Bird's (and
Flying Bird+'s) prune-and-grow, and Robust Bird's stage-1 early-ticket watch."""

import torch

from ..lottery import masks
from . import birds


class FlyingBird:
    """Prune-and-grow every `update_every` iterations (global count, switched by `update_schedule`)
    at a cosine-annealed rate; with `adaptive` (Flying Bird+), extra prune / extra growth from the
    gap and the validation robust loss. Grown weights and their momentum start at zero."""

    def __init__(self, net, mask, cfg, total_steps, seed, adaptive=None):
        self.net, self.mask, self.cfg, self.total = net, mask, cfg, total_steps
        self.gen = torch.Generator().manual_seed(seed)
        self.adaptive = adaptive
        self.stop = False
        self.epochs_done = 0
        self.density_log = []

    def interval(self):
        return birds.update_interval(self.cfg.get("update_schedule"), self.cfg["update_every"], self.epochs_done)

    def after_step(self, step, opt):
        """Called after the step and the mask; returns True when the mask changed (in place)."""
        interval = self.interval()
        if step % interval:
            return False
        rate = birds.cosine_rate(step, self.total, self.cfg["rate_start"], self.cfg["rate_end"])
        extra, grow = self.adaptive.decision() if self.adaptive else (0.0, 1.0)
        params = dict(self.net.named_parameters())
        grads = {n: params[n].grad for n in self.mask} if self.cfg.get("regrow") == "gradient" else None
        before = masks.density(self.mask)
        new, grown = birds.prune_and_grow(params, {n: m.cpu() for n, m in self.mask.items()}, rate, self.gen,
                                          grads, extra * rate, grow, self.cfg.get("regrow_count", "approximate"))
        with torch.no_grad():
            for n, m in new.items():
                self.mask[n] = m.to(self.mask[n].device)
                g = grown[n].to(params[n].device)
                params[n][g] = 0  # a grown weight starts from zero, and so does its momentum
                buf = opt.buffer_of(params[n])
                if buf is not None:
                    buf[g] = 0
        self.density_log.append({"step": step, "epoch": self.epochs_done + 1, "interval": interval,
                                 "density_before": before, "density": masks.density(self.mask), "rate": rate,
                                 "extra_prune": extra * rate, "grow_factor": grow,
                                 "grown": int(sum(int(g.sum()) for g in grown.values()))})
        return True

    def after_epoch(self, rec):
        self.epochs_done = rec["epoch"]
        if self.adaptive is not None and "val_ra" in rec:
            self.adaptive.observe(rec["epoch"], rec["train_acc"] - rec["val_ra"], rec["val_ra_loss"])

    def state(self):
        out = {"gen": self.gen.get_state(), "density_log": self.density_log, "epochs_done": self.epochs_done}
        if self.adaptive is not None:
            out["adaptive"] = {"gaps": list(self.adaptive.gaps), "losses": list(self.adaptive.losses),
                               "epoch": getattr(self.adaptive, "epoch", 0)}
        return out

    def set_state(self, state):
        self.gen.set_state(state["gen"])
        self.density_log[:] = state["density_log"]
        self.epochs_done = state["epochs_done"]
        if self.adaptive is not None:
            self.adaptive.gaps.extend(state["adaptive"]["gaps"])
            self.adaptive.losses.extend(state["adaptive"]["losses"])
            self.adaptive.epoch = state["adaptive"]["epoch"]


class EarlyBirdWatch:
    """Robust Bird stage 1: a global conv mask at the target density after every epoch; stop
    when the early-ticket test passes."""

    def __init__(self, net, density, window, threshold):
        self.net, self.density = net, density
        self.test = birds.EarlyTicket(window, threshold)
        self.names = masks.prunable_names(net)
        self.stop, self.found_epoch = False, None

    def after_step(self, step, opt):
        return False

    def after_epoch(self, rec):
        if self.test.add(birds.global_magnitude_mask(self.net, self.names, self.density)) and not self.stop:
            self.stop, self.found_epoch = True, rec["epoch"]

    def state(self):
        return {"masks": list(self.test.masks), "stop": self.stop, "found_epoch": self.found_epoch}

    def set_state(self, state):
        self.test.masks.extend(state["masks"])
        self.stop, self.found_epoch = state["stop"], state["found_epoch"]
