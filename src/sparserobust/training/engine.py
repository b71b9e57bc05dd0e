"""The one training loop: pre-training, IMP re-training and transfer are this engine with options.

Options: a train attack (adversarial training) or none, a fixed mask (applied once after
every optimiser step) or none, the LR schedule, and model selection on the validation
split (best SA, best RA, or the last epoch). Data stays on the device and is augmented
there in batches; bf16 autocast for training on GPUs that support it, fp32 on the CPU;
validation and every test metric in fp32 (TrainHParams.eval_precision).
"""

import copy
import dataclasses
import sys
import time
from collections.abc import Callable

import torch

from ..data import arrays as data_mod
from ..foundations import distributed, timing
from ..lottery import masks
from . import checkpoint as checkpoint_mod
from . import evaluate, optim
from .step import StepContext, autocast_for, compiled, micro_batches, micro_cap, train_epoch  # noqa: F401


def pick_device(name="auto", log=None):
    """The configured device (devices.pick: never a silent CPU when a GPU was meant);
    under torchrun on CUDA, the process's own GPU. The CLI logs the choice once, at start."""
    from ..foundations import devices

    return devices.pick(name, log or (lambda msg: None))


@dataclasses.dataclass
class Hooks:
    """What a stage adds to the plain loop: a `sparsifier` that sees every optimiser step
    (after_step may change the mask in place) and every epoch record (after_epoch) and ends
    training by setting `stop`; distillation `teachers` (a tuple, weighted by hp.kd_weights); `on_epoch(rec,
    model)` after every epoch; `extra_state` = (get, set), the stage's own state in checkpoints."""

    sparsifier: object | None = None
    teachers: tuple = ()
    on_epoch: Callable | None = None
    extra_state: tuple | None = None


def train(model, splits, hp, device, seed, mask=None, log=print, checkpoint=None, hooks=None):
    """Train `model` (a models.Normalized) and return (history, best epoch record, best state).

    `hooks` (Hooks, optional): a sparsifier, teachers, a per-epoch callback, extra state.
    `checkpoint` (a path): the full training state is saved there once hp.checkpoint_minutes
    have passed since the last save (checked after every optimiser step and at epoch ends; 0:
    after every epoch) and on SIGTERM (then the process exits with 143), and a run finds it and
    continues; the result equals an uninterrupted run.
    """
    hooks = hooks or Hooks()
    sparsifier, on_epoch, extra_state = hooks.sparsifier, hooks.on_epoch, hooks.extra_state
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
    ckpt = checkpoint_mod.Checkpointer(checkpoint, log, hp.checkpoint_minutes) if checkpoint else None
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
            partial = (saved["batch"], checkpoint_mod.own_sums(saved["sums"]))
            gen.set_state(saved["gen_epoch_start"])

    def snapshot(epoch, batch=0, sums=None, gen_epoch_start=None):
        if not distributed.is_main():
            return
        ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "history": history, "best": best,
                   "best_state": best_state, "mask": mask, "rng": checkpoint_mod.rng_state(gen, dev_gen),
                   "extra": extra_state[0]() if extra_state is not None else None, "epoch": epoch,
                   "batch": batch, "sums": sums, "gen_epoch_start": gen_epoch_start})

    ctx = StepContext(hp, device, opt, gen, dev_gen, autocast, mask, sparsifier, tuple(hooks.teachers), nets)
    bar = sys.stdout.isatty()  # a progress bar on a terminal; one line per epoch in a rule's log
    steps = (hp.steps_per_epoch or -(-len(splits["train"]) // hp.batch_size)) if bar else 0
    timing.first_step()
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
            if ckpt is None:
                return
            # under DDP every process stops (or saves) at the same step: SIGTERM reaches them at different
            # steps, and the interval is the first process's clock
            stop, due = distributed.agree(ckpt.stop_requested, distributed.is_main() and ckpt.due())
            if stop or due:  # due: the interval passed inside a (long) epoch
                snapshot(epoch, i, distributed.gather_all(sums()), gen_epoch_start)  # every process's own sums
            if stop:
                log(f"SIGTERM: saved the state at epoch {epoch + 1}, batch {i}; exiting")
                raise checkpoint_mod.Preempted()

        rec.update(train_epoch(model, splits["train"], ctx, partial, on_step))
        partial = None
        if hp.select != "last" and "val" in splits:
            val_hp = hp if hp.select == "ra" else _clean(hp)
            rec.update({f"val_{k}": v for k, v in evaluate.report(model, splits["val"], device, val_hp, seed).items()})
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
        if ckpt is not None and ckpt.due(epoch_end=True):
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
