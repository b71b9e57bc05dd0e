"""One epoch of optimiser steps: micro-batching, the train attack, the loss (with optional
distillation), the optimiser step and the mask applied after it; autocast by TrainHParams.precision."""

import contextlib
import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..data import arrays as data_mod
from ..foundations import distributed
from ..foundations.hparams import TrainHParams
from ..lottery import masks
from . import attacks, evaluate, optim
from .precision import autocast_for  # noqa: F401  (re-exported)


@dataclasses.dataclass
class StepContext:
    """What every step of an epoch needs besides the model and the data: the hyperparameters, the
    device, the optimiser, the generators of data order (CPU) and attack starts (device), the
    autocast context, and the optional mask (applied after each step), sparsifier (sees every
    step), distillation teachers (a tuple, weighted by hp.kd_weights) and (attack model,
    training-pass model) when they differ from the model (compiled, DDP)."""

    hp: TrainHParams
    device: torch.device
    opt: optim.SGD
    gen: torch.Generator
    dev_gen: torch.Generator
    autocast: Callable = contextlib.nullcontext
    mask: dict | None = None
    sparsifier: object | None = None
    teachers: tuple = ()
    nets: tuple | None = None


def compiled(model, hp, device):
    """(the model for attacks, for the training pass) with hp.compile: torch.compile'd ones."""
    fwd = distributed.wrap(model, device)
    if not hp.compile:
        return model, fwd
    attack_net = torch.compile(model)
    return attack_net, attack_net if fwd is model else torch.compile(fwd)


def soft_cross_entropy(logits, teacher_logits, temperature):
    """T^2 x cross-entropy of the student's softened prediction against the teacher's softened one,
    averaged over the batch: Chen et al. 2021's `loss_fn_kd` (utils.py, Alleviate-Robust-Overfitting).
    It differs from T^2 x KL only by the teacher's entropy, a constant, so the gradients are the same."""
    return F.cross_entropy(logits / temperature, F.softmax(teacher_logits / temperature, dim=1)) * temperature ** 2


def _loss(logits, y, x, hp, teachers):
    """Cross-entropy on the labels; with teachers (distillation on the same, adversarial, inputs):
    kd_ce x CE + sum_i kd_weights[i] x soft_cross_entropy(student, teacher_i)."""
    logits = evaluate.full(logits)
    loss = F.cross_entropy(logits, y)
    if not teachers or not hp.kd_weights:
        return loss
    if len(teachers) != len(hp.kd_weights):
        raise ValueError(f"{len(hp.kd_weights)} distillation weights for {len(teachers)} teachers")
    total = hp.kd_ce * loss
    for weight, teacher in zip(hp.kd_weights, teachers, strict=True):
        with torch.no_grad():
            target = evaluate.full(teacher(x))
        total = total + weight * soft_cross_entropy(logits, target, hp.kd_temperature)
    return total


def micro_cap(hp):
    """The most images one process passes at once: the per-GPU batch of the config's GPU request."""
    return _ceil_div(hp.batch_size, max(1, hp.batch_split))


def _ceil_div(a, b):
    return -(-a // b)


def micro_batches(n, hp, total=None):
    """Slices of this process's share (n images) of a global batch of `total` images (default n),
    each of at most ceil(batch_size / batch_split) images: the per-GPU batch the config's GPU
    request implies. A job given fewer GPUs than it asked for accumulates gradients over them,
    so the optimiser still steps once per global batch. The number of slices follows from the
    global batch alone, so every process runs as many passes (their collectives must match)."""
    count = max(1, _ceil_div(_ceil_div(total or n, distributed.world()), micro_cap(hp)))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def train_epoch(model, train, ctx, resume=None, on_step=None):
    """One epoch. `resume` = (batches already done, their running sums) continues a pre-empted
    epoch: the same data order and augmentations are replayed up to there (same generator
    state at the epoch start) without training. `on_step(i, sums)` runs after every step;
    sums() gives the running (loss sum, correct, n), read from the device only when asked.
    `ctx` holds the step's collaborators (StepContext)."""
    hp, device, opt, mask = ctx.hp, ctx.device, ctx.opt, ctx.mask
    attack_net, fwd = ctx.nets or (model, model)
    model.train()
    done, sums = resume or (0, (0.0, 0, 0))
    loss_sum = torch.full((), float(sums[0]), device=device)
    correct, n = torch.full((), int(sums[1]), device=device), int(sums[2])
    arrays = isinstance(train, data_mod.ArrayData)
    shared = not arrays and distributed.active()  # streamed folders hand each process its share
    global_batch = min(hp.batch_size, len(train)) if shared else None
    # under DDP a last batch smaller than the others is dropped, so all processes' shares match
    for i, (x, y) in enumerate(data_mod.batches(train, hp.batch_size, device, hp.augment, ctx.gen, shuffle=True,
                                                drop_last=distributed.active())):
        if i < done:
            continue
        if hp.steps_per_epoch and i >= hp.steps_per_epoch:
            break
        total = global_batch if shared else len(y)
        if arrays:
            x, y = distributed.shard(x, y)
        opt.zero_grad()
        parts = micro_batches(len(y), hp, total)
        for j, part in enumerate(parts):  # gradient accumulation: sum of part losses weighted by size
            xp, yp = x[part], y[part]
            if hp.train_attack is not None:
                xp = attacks.pgd(attack_net, xp, yp, hp.train_attack, ctx.dev_gen, ctx.autocast)
            last = j == len(parts) - 1
            with contextlib.nullcontext() if last or not hasattr(fwd, "no_sync") else fwd.no_sync():
                with ctx.autocast():
                    logits = fwd(xp)
                    loss = _loss(logits, yp, xp, hp, ctx.teachers)
                (loss * (len(yp) / len(y)) if len(parts) > 1 else loss).backward()
            loss_sum += loss.detach() * len(yp)
            correct += (logits.argmax(1) == yp).sum()
        opt.step()
        opt.steps += 1
        if mask is not None:  # masks after the step; under dynamic sparsity momentum too, so that a
            masks.apply(model.net, mask)  # position grown later starts from zero weight and momentum
            if ctx.sparsifier is not None:
                masks.apply_momentum(opt, model.net, mask)
        if ctx.sparsifier is not None and ctx.sparsifier.after_step(opt.steps, opt) and mask is not None:
            masks.apply(model.net, mask)  # the sparsifier changed the mask in place (prune and grow)
            masks.apply_momentum(opt, model.net, mask)
        n += len(y)
        if on_step is not None:
            on_step(i + 1, lambda n=n, s=loss_sum, c=correct: (float(s), int(c), n))  # read (a device sync) on demand
    loss_total, correct_total, n_total = distributed.sum_all([float(loss_sum), float(correct), n])
    return {"train_loss": loss_total / n_total, "train_acc": 100 * correct_total / n_total}
