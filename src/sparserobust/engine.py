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

from . import attacks, data as data_mod, evaluate, masks, optim


def pick_device(name="auto"):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_for(device):
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def _loss(logits, y, x, hp, teacher):
    loss = F.cross_entropy(logits.float(), y)
    if teacher is None or not hp.kd_alpha:
        return loss
    with torch.no_grad():
        target = F.softmax(teacher(x).float() / hp.kd_temperature, dim=1)
    kd = F.kl_div(F.log_softmax(logits.float() / hp.kd_temperature, dim=1), target, reduction="batchmean")
    return (1 - hp.kd_alpha) * loss + hp.kd_alpha * hp.kd_temperature ** 2 * kd


def train_epoch(model, train, hp, device, opt, gen, dev_gen, mask, autocast, sparsifier=None, teacher=None):
    model.train()
    loss_sum, correct, n = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in data_mod.batches(train, hp.batch_size, device, hp.augment, gen, shuffle=True):
        if hp.train_attack is not None:
            x = attacks.pgd(model, x, y, hp.train_attack, dev_gen, autocast)
        with autocast():
            logits = model(x)
            loss = _loss(logits, y, x, hp, teacher)
        opt.zero_grad()
        loss.backward()
        opt.step()
        opt.steps += 1
        if sparsifier is not None:  # dynamic sparsity: the mask may change; momentum follows it
            sparsifier.after_step(opt.steps, opt)
            if mask is not None:
                masks.apply_momentum(opt, model.net, mask)
        if mask is not None:
            masks.apply(model.net, mask)
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
    return {"train_loss": float(loss_sum) / n, "train_acc": 100 * float(correct) / n}


def train(model, splits, hp, device, seed, mask=None, log=print, on_epoch=None, sparsifier=None, teacher=None):
    """Train `model` (a models.Normalized) and return (history, best epoch record, best state).

    `sparsifier` (optional) sees every optimiser step (after_step may change `mask` in place)
    and every epoch record (after_epoch), and ends training early by setting `stop`.
    `teacher` (optional) distils into the model when hp.kd_alpha > 0.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev_gen = torch.Generator(device=device).manual_seed(seed + 1)
    autocast = autocast_for(device)
    splits = {k: data_mod.to_device(v, device) for k, v in splits.items()}
    if mask is not None:
        for n, m in list(mask.items()):  # in place, so a sparsifier holding `mask` sees the same dict
            mask[n] = m.to(device)
        masks.apply(model.net, mask)
    opt = optim.SGD(model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    history, best, best_state = [], None, None
    for epoch in range(hp.epochs):
        start = time.time()
        opt.lr = optim.lr_at(hp, epoch)
        rec = {"epoch": epoch + 1, "lr": opt.lr}
        rec.update(train_epoch(model, splits["train"], hp, device, opt, gen, dev_gen, mask, autocast,
                               sparsifier, teacher))
        if hp.select != "last" and "val" in splits:
            val_hp = hp if hp.select == "ra" else _clean(hp)
            rec.update({f"val_{k}": v for k, v in evaluate.report(model, splits["val"], device, val_hp,
                                                                   autocast, seed).items()})
        rec["seconds"] = time.time() - start
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
        if sparsifier is not None and sparsifier.stop:
            log(f"stopped after epoch {rec['epoch']}")
            break
    if best_state is None:  # zero epochs: the model as given
        best_state = copy.deepcopy(model.state_dict())
    return history, best, best_state


def _clean(hp):
    import dataclasses

    return dataclasses.replace(hp, eval_attack=None)
