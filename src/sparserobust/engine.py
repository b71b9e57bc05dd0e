"""The one training loop: pre-training, IMP re-training and transfer are this engine with options.

Options: a train attack (adversarial training) or none, a fixed mask (applied once after
every optimiser step) or none, the LR schedule, and model selection on the validation
split (best SA, best RA, or the last epoch). Data stays on the device and is augmented
there in batches; bf16 autocast on GPUs that support it, fp32 on the CPU.
"""

import contextlib
import copy
import functools
import time

import torch
import torch.nn.functional as F

from . import attacks, data as data_mod, evaluate, masks


def pick_device(name="auto"):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_for(device):
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def scheduler(opt, hp):
    if hp.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, list(hp.milestones), hp.gamma)
    if hp.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, hp.epochs))
    if hp.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)
    raise ValueError(f"unknown schedule {hp.schedule!r}: use step, cosine or constant")


def train_epoch(model, train, hp, device, opt, gen, dev_gen, mask, autocast):
    model.train()
    loss_sum, correct, n = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in data_mod.batches(train, hp.batch_size, device, hp.augment, gen, shuffle=True):
        if hp.train_attack is not None:
            x = attacks.pgd(model, x, y, hp.train_attack, dev_gen, autocast)
        with autocast():
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if mask is not None:
            masks.apply(model.net, mask)
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
    return {"train_loss": float(loss_sum) / n, "train_acc": 100 * float(correct) / n}


def train(model, splits, hp, device, seed, mask=None, log=print):
    """Train `model` (a models.Normalized) and return (history, best epoch record, best state)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev_gen = torch.Generator(device=device).manual_seed(seed + 1)
    autocast = autocast_for(device)
    splits = {k: data_mod.to_device(v, device) for k, v in splits.items()}
    if mask is not None:
        mask = {n: m.to(device) for n, m in mask.items()}
        masks.apply(model.net, mask)
    opt = torch.optim.SGD(model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    sched = scheduler(opt, hp)
    history, best, best_state = [], None, None
    for epoch in range(hp.epochs):
        start = time.time()
        rec = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"]}
        rec.update(train_epoch(model, splits["train"], hp, device, opt, gen, dev_gen, mask, autocast))
        sched.step()
        if hp.select != "last" and "val" in splits:
            val_hp = hp if hp.select == "ra" else _clean(hp)
            rec.update({f"val_{k}": v for k, v in evaluate.report(model, splits["val"], device, val_hp,
                                                                   autocast, seed).items()})
        rec["seconds"] = time.time() - start
        history.append(rec)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        score = rec.get(f"val_{hp.select}", rec["epoch"])
        if best is None or score > best["score"]:
            best = {"epoch": rec["epoch"], "score": score}
            best_state = copy.deepcopy(model.state_dict())
    if best_state is None:  # zero epochs: the model as given
        best_state = copy.deepcopy(model.state_dict())
    return history, best, best_state


def _clean(hp):
    import dataclasses

    return dataclasses.replace(hp, eval_attack=None)
