"""Fine-tuning a Mask R-CNN as torchvision's detection references do (references/detection/train.py,
engine.py): SGD with momentum and weight decay over the trainable parameters, a linear warm-up over
the first min(warmup_iters, steps per epoch - 1) steps of the first epoch from warmup_factor, the
learning rate x0.1 at each milestone epoch, loss = the sum of the model's loss dict. The ticket's mask
is applied after every optimiser step, so pruned backbone weights stay exactly zero.

The training state is saved once `minutes` (engine.checkpoint_minutes) have passed since the last
save, checked after every step and at epoch ends (0: after every epoch), and at the next step after
SIGTERM; a job resumes from it to the same result: the order of images and the flips come from one
seeded generator.
"""

import math
import time

import torch

from ..foundations import hparams, timing
from ..lottery import masks
from ..training import checkpoint


def learning_rate(hp, epoch, step, steps):
    lr = hp["lr"] * 0.1 ** sum(epoch >= m for m in hp.get("milestones", []))
    warmup = min(hp.get("warmup_iters", 1000), steps - 1)
    if epoch == 0 and step < warmup:
        factor = hp.get("warmup_factor", 0.001)
        lr *= factor + (1 - factor) * step / warmup
    return lr


def optimizer(model, hp):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=hp["lr"], momentum=hp.get("momentum", 0.9),
                           weight_decay=hp.get("weight_decay", 1e-4), foreach=True)


def _state(model, opt, epoch, batch, order, sums, history, gen):
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "batch": batch,
            "order": order, "sums": sums, "history": history, "rng": rng_state(gen)}


def rng_state(gen):
    out = {"gen": gen.get_state(), "torch": torch.get_rng_state()}
    return {**out, "cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else out


def set_rng_state(state, gen):
    gen.set_state(state["gen"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(model, dataset, hp, device, seed, mask, resume=None, log=print, minutes=hparams.CHECKPOINT_MINUTES):
    """Train `model` on `dataset` (a VOCInstances whose generator is set here); returns the history.
    `resume`: the training state's path; `minutes`: the interval between its saves (0: every epoch)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dataset.generator = gen
    model.to(device).train()
    masks.apply(model, mask)
    opt = optimizer(model, hp)
    saver = checkpoint.Checkpointer(resume, log, minutes) if resume else None
    saved = saver.load() if saver else None
    epoch, batch, order, sums, history = 0, 0, None, {}, []
    if saved:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        epoch, batch, order, sums, history = (saved[k] for k in ("epoch", "batch", "order", "sums", "history"))
        set_rng_state(saved["rng"], gen)
    size = hp["batch_size"]
    steps = math.ceil(len(dataset) / size)
    timing.first_step()
    while epoch < hp["epochs"]:
        start = time.time() - sums.get("seconds", 0.0)
        order = torch.randperm(len(dataset), generator=gen) if order is None else order
        for step in range(batch, steps):
            lr = learning_rate(hp, epoch, step, steps)
            for group in opt.param_groups:
                group["lr"] = lr
            losses = one_step(model, opt, [dataset[int(i)] for i in order[step * size:(step + 1) * size]], device)
            masks.apply(model, mask)
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            if saver and (saver.stop_requested or saver.due()) and step + 1 < steps:
                saver.save(_state(model, opt, epoch, step + 1, order, {**sums, "seconds": time.time() - start},
                                  history, gen))
                if saver.stop_requested:
                    raise checkpoint.Preempted()
        history.append({"epoch": epoch + 1, "lr": lr, "seconds": time.time() - start,
                        **{k: v / steps for k, v in sums.items() if k != "seconds"}})
        log(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch"))
        epoch, batch, order, sums = epoch + 1, 0, None, {}
        if saver and (saver.stop_requested or saver.due(epoch_end=True)):
            saver.save(_state(model, opt, epoch, 0, order, sums, history, gen))
            if saver.stop_requested:
                raise checkpoint.Preempted()
    return history


def one_step(model, opt, batch, device):
    images = [image.to(device) for image, _ in batch]
    targets = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in tgt.items()} for _, tgt in batch]
    loss_dict = model(images, targets)
    loss = sum(loss_dict.values())
    if not math.isfinite(loss.item()):
        raise FloatingPointError(f"the loss is {loss.item()} ({ {k: v.item() for k, v in loss_dict.items()} }); "
                                 "lower segmentation.train.lr or lengthen warmup_iters")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss.item(), **{k: v.item() for k, v in loss_dict.items()}}
