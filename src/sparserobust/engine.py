"""The one training loop: pre-training, IMP re-training and transfer are this engine with options.

Options: a train attack (adversarial training) or none, a fixed mask (applied once after
every optimiser step) or none, the LR schedule, and model selection on the validation
split (best SA, best RA, or the last epoch). Data stays on the device and is augmented
there in batches; bf16 autocast on GPUs that support it, fp32 on the CPU.
"""

import contextlib
import copy
import dataclasses
import functools
import sys
import time

import torch
import torch.nn.functional as F

from . import attacks, checkpoint as checkpoint_mod, data as data_mod, distributed, evaluate, masks, optim


def pick_device(name="auto", log=None):
    """The configured device (devices.pick: never a silent CPU when a GPU was meant);
    under torchrun on CUDA, the process's own GPU. The CLI logs the choice once, at start."""
    from . import devices

    return devices.pick(name, log or (lambda msg: None))


def autocast_for(device, precision="auto"):
    """The autocast context of TrainHParams.precision: auto = bf16 on CUDA GPUs that support it,
    fp32 elsewhere; bf16 forces bf16 autocast (on the CPU too); fp32 turns it off."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"engine.precision {precision!r}: use auto, fp32 or bf16")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16":
        return functools.partial(torch.autocast, device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def compiled(model, hp, device):
    """(the model for attacks, for the training pass) with hp.compile: torch.compile'd ones."""
    fwd = distributed.wrap(model, device)
    if not hp.compile:
        return model, fwd
    attack_net = torch.compile(model)
    return attack_net, attack_net if fwd is model else torch.compile(fwd)


def _loss(logits, y, x, hp, teacher):
    logits = evaluate.full(logits)
    loss = F.cross_entropy(logits, y)
    if teacher is None or not hp.kd_alpha:
        return loss
    with torch.no_grad():
        target = F.softmax(evaluate.full(teacher(x)) / hp.kd_temperature, dim=1)
    kd = F.kl_div(F.log_softmax(logits / hp.kd_temperature, dim=1), target, reduction="batchmean")
    return (1 - hp.kd_alpha) * loss + hp.kd_alpha * hp.kd_temperature ** 2 * kd


def micro_cap(hp):
    """The most images one process passes at once: the per-GPU batch of the config's GPU request."""
    return -(-hp.batch_size // max(1, hp.batch_split))


def micro_batches(n, hp, total=None):
    """Slices of this process's share (n images) of a global batch of `total` images (default n),
    each of at most ceil(batch_size / batch_split) images: the per-GPU batch the config's GPU
    request implies. A job given fewer GPUs than it asked for accumulates gradients over them,
    so the optimiser still steps once per global batch. The number of slices follows from the
    global batch alone, so every process runs as many passes (their collectives must match)."""
    count = max(1, -(-(-(-(total or n) // distributed.world())) // micro_cap(hp)))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def train_epoch(model, train, hp, device, opt, gen, dev_gen, mask, autocast, sparsifier=None, teacher=None,
                resume=None, on_step=None, nets=None):
    """One epoch. `resume` = (batches already done, their running sums) continues a pre-empted
    epoch: the same data order and augmentations are replayed up to there (same generator
    state at the epoch start) without training. `on_step(i, sums)` runs after every step;
    sums() gives the running (loss sum, correct, n), read from the device only when asked.
    `nets` = (attack model, training-pass model) when they differ from `model` (compiled, DDP)."""
    attack_net, fwd = nets or (model, model)
    model.train()
    done, sums = resume or (0, (0.0, 0, 0))
    loss_sum = torch.full((), float(sums[0]), device=device)
    correct, n = torch.full((), int(sums[1]), device=device), int(sums[2])
    arrays = isinstance(train, data_mod.ArrayData)
    shared = not arrays and distributed.active()  # streamed folders hand each process its share
    global_batch = min(hp.batch_size, len(train)) if shared else None
    # under DDP a last batch smaller than the others is dropped, so all processes' shares match
    for i, (x, y) in enumerate(data_mod.batches(train, hp.batch_size, device, hp.augment, gen, shuffle=True,
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
                xp = attacks.pgd(attack_net, xp, yp, hp.train_attack, dev_gen, autocast)
            last = j == len(parts) - 1
            with contextlib.nullcontext() if last or not hasattr(fwd, "no_sync") else fwd.no_sync():
                with autocast():
                    logits = fwd(xp)
                    loss = _loss(logits, yp, xp, hp, teacher)
                (loss * (len(yp) / len(y)) if len(parts) > 1 else loss).backward()
            loss_sum += loss.detach() * len(yp)
            correct += (logits.argmax(1) == yp).sum()
        opt.step()
        opt.steps += 1
        if sparsifier is not None:  # dynamic sparsity: the mask may change; momentum follows it
            sparsifier.after_step(opt.steps, opt)
            if mask is not None:
                masks.apply_momentum(opt, model.net, mask)
        if mask is not None:
            masks.apply(model.net, mask)
        n += len(y)
        if on_step is not None:
            on_step(i + 1, lambda n=n: (float(loss_sum), int(correct), n))  # read (a device sync) on demand
    loss_total, correct_total, n_total = distributed.sum_all([float(loss_sum), float(correct), n])
    return {"train_loss": loss_total / n_total, "train_acc": 100 * correct_total / n_total}


def train(model, splits, hp, device, seed, mask=None, log=print, on_epoch=None, sparsifier=None, teacher=None,
          checkpoint=None, extra_state=None):
    """Train `model` (a models.Normalized) and return (history, best epoch record, best state).

    `sparsifier` (optional) sees every optimiser step (after_step may change `mask` in place)
    and every epoch record (after_epoch), and ends training early by setting `stop`.
    `teacher` (optional) distils into the model when hp.kd_alpha > 0.
    `checkpoint` (a path): the full training state is saved there after every epoch and on
    SIGTERM (then the process exits with 143), and a run finds it and continues; the result
    equals an uninterrupted run. `extra_state` = (get, set) carries the caller's own state.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev_gen = torch.Generator(device=device).manual_seed(seed + 1)
    autocast = autocast_for(device, hp.precision)
    splits = {k: data_mod.to_device(v, device) for k, v in splits.items()}
    if mask is not None:
        for n, m in list(mask.items()):  # in place, so a sparsifier holding `mask` sees the same dict
            mask[n] = m.to(device)
        masks.apply(model.net, mask)
    distributed.init(device)
    if distributed.is_main():
        share = -(-hp.batch_size // distributed.world())
        log(f"engine: {distributed.world()} process(es) on {device}, batch {hp.batch_size}, "
            f"{len(micro_batches(share, hp, hp.batch_size))} micro-batch(es) of at most {micro_cap(hp)} "
            f"images per process and step")
    nets = compiled(model, hp, device)
    opt = optim.SGD(model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    history, best, best_state = [], None, None
    ckpt = checkpoint_mod.Checkpointer(checkpoint, log) if checkpoint else None
    saved = ckpt.load() if ckpt else None
    start_epoch, partial = 0, None
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        history, best, best_state = saved["history"], saved["best"], saved["best_state"]
        if mask is not None:
            for n in mask:
                mask[n] = saved["mask"][n].to(device)
        checkpoint_mod.set_rng_state(saved["rng"], gen, dev_gen)
        if extra_state is not None:
            extra_state[1](saved["extra"])
        start_epoch = saved["epoch"]
        if saved["batch"]:
            partial = (saved["batch"], saved["sums"])
            gen.set_state(saved["gen_epoch_start"])

    def snapshot(epoch, batch=0, sums=None, gen_epoch_start=None):
        if not distributed.is_main():
            return
        ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "history": history, "best": best,
                   "best_state": best_state, "mask": mask, "rng": checkpoint_mod.rng_state(gen, dev_gen),
                   "extra": extra_state[0]() if extra_state is not None else None, "epoch": epoch,
                   "batch": batch, "sums": sums, "gen_epoch_start": gen_epoch_start})

    bar = sys.stdout.isatty()  # a progress bar on a terminal; one line per epoch in a rule's log
    steps = (hp.steps_per_epoch or -(-len(splits["train"]) // hp.batch_size)) if bar else 0
    for epoch in range(start_epoch, hp.epochs):
        if sparsifier is not None and sparsifier.stop:
            break
        start = time.time()
        opt.lr = optim.lr_at(hp, epoch)
        rec = {"epoch": epoch + 1, "lr": opt.lr}
        gen_epoch_start = gen.get_state()  # on a resume, gen was set to the saved epoch start above

        def on_step(i, sums, epoch=epoch, gen_epoch_start=gen_epoch_start):
            if bar:
                progress(epoch + 1, hp.epochs, i, steps, sums())
            if ckpt is not None and ckpt.stop_requested:
                snapshot(epoch, i, sums(), gen_epoch_start)
                log(f"SIGTERM: saved the state at epoch {epoch + 1}, batch {i}; exiting")
                raise checkpoint_mod.Preempted()

        rec.update(train_epoch(model, splits["train"], hp, device, opt, gen, dev_gen, mask, autocast,
                               sparsifier, teacher, partial, on_step, nets))
        partial = None
        if hp.select != "last" and "val" in splits:
            val_hp = hp if hp.select == "ra" else _clean(hp)
            rec.update({f"val_{k}": v for k, v in evaluate.report(model, splits["val"], device, val_hp,
                                                                   autocast, seed).items()})
        rec["seconds"] = time.time() - start
        if bar:
            sys.stdout.write("\r\033[K")
        history.append(rec)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        if sparsifier is not None:
            sparsifier.after_epoch(rec)
        if on_epoch is not None:
            on_epoch(rec, model)
        score = rec.get(f"val_{hp.select}", rec["epoch"])
        if best is None or score > best["score"]:
            best = {"epoch": rec["epoch"], "score": score}
            best_state = copy.deepcopy(model.state_dict())
        if ckpt is not None:
            snapshot(epoch + 1)
        if sparsifier is not None and sparsifier.stop:
            log(f"stopped after epoch {rec['epoch']}")
            break
    if best_state is None:  # zero epochs: the model as given
        best_state = copy.deepcopy(model.state_dict())
    return history, best, best_state


def progress(epoch, epochs, step, steps, sums):
    width = 30
    done = int(width * step / max(1, steps))
    sys.stdout.write(f"\repoch {epoch}/{epochs} [{'#' * done}{'.' * (width - done)}] {step}/{steps} "
                     f"loss {sums[0] / max(1, sums[2]):.4f}")
    sys.stdout.flush()


def _clean(hp):
    return dataclasses.replace(hp, eval_attack=None)
