"""L-inf PGD in [0, 1] pixel space (normalisation lives inside the model).

Uniform random start in the eps-ball, sign-gradient steps, projection to the eps-ball and
to [0, 1] after every step. The model's train/eval mode is set for the attack on purpose
(AttackHParams.model_mode) and restored afterwards. Only the input gets a gradient.
"""

import contextlib

import torch
import torch.nn.functional as F


@contextlib.contextmanager
def model_mode(model, mode):
    was_training = model.training
    model.train(mode == "train")
    try:
        yield model
    finally:
        model.train(was_training)


def pgd(model, x, y, hp, generator=None, autocast=contextlib.nullcontext):
    """Adversarial examples for (x, y) under AttackHParams `hp`; x is in [0, 1]."""
    eps, step = hp.eps01, hp.step01
    x = x.detach()
    if hp.random_start:
        delta = torch.empty_like(x).uniform_(-eps, eps, generator=generator)
        delta = (x + delta).clamp_(0, 1) - x
    else:
        delta = torch.zeros_like(x)
    with model_mode(model, hp.model_mode):
        for _ in range(hp.steps):
            delta.requires_grad_(True)
            with autocast():
                loss = F.cross_entropy(model(x + delta), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + step * grad.sign()).clamp_(-eps, eps)
            delta = (x + delta).clamp_(0, 1) - x
    return (x + delta).detach()
