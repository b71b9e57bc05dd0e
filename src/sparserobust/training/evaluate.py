"""Clean and adversarial accuracy of a model on a dataset (model in eval mode)."""

import contextlib

import torch
import torch.nn.functional as F

from ..data import arrays as data_mod
from . import attacks, precision


def full(t):
    """bf16 autocast outputs in float32 for losses; float64 runs (exactness tests) stay float64."""
    return t if t.dtype == torch.float64 else t.float()


def accuracy(model, data, device, batch_size, view=None, attack=None, seed=0,
             autocast=contextlib.nullcontext, source=None):
    """(accuracy, mean loss) on clean inputs, or under `attack` (AttackHParams) if given.

    With `source`, the attack is crafted on that model and evaluated on `model` (a transfer
    attack); the seeded random starts make it white-box PGD when source is model.
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    correct, loss_sum, n = 0, 0.0, 0
    crafter = model if source is None else source
    with attacks.model_mode(model, "eval"):
        for x, y in data_mod.batches(data, batch_size, device, view):
            if attack is not None:
                x = attacks.pgd(crafter, x, y, attack, gen, autocast)
            with torch.no_grad(), autocast():
                logits = full(model(x))
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
    return correct / n, loss_sum / n


def report(model, data, device, hp, seed=0):
    """SA (and RA when hp.eval_attack is set) in percent, with the losses, in hp.eval_precision
    (fp32 by default, whatever the training precision)."""
    autocast = precision.eval_autocast(device, hp)
    sa, sa_loss = accuracy(model, data, device, hp.eval_batch_size, hp.eval_view, None, seed, autocast)
    out = {"sa": 100 * sa, "sa_loss": sa_loss}
    if hp.eval_attack is not None:
        ra, ra_loss = accuracy(model, data, device, hp.eval_batch_size, hp.eval_view, hp.eval_attack,
                               seed, autocast)
        out.update(ra=100 * ra, ra_loss=ra_loss)
    return out
