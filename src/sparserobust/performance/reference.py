"""The plain reference loop the engine is measured and checked against.

What a straightforward PyTorch script does: a torchvision DataLoader with per-sample CPU
transforms, fp32, torch.optim.SGD, the mask re-applied by forward pre-hooks
(torch.nn.utils.prune.custom_from_mask), and PGD written as in the robust-overfitting code
the second paper builds on (`loss.backward()` then `delta.grad`, so every attack step also
computes weight gradients).
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..training import attacks


def plain_pgd(model, x, y, hp, generator=None):
    """PGD as the robust-overfitting training script writes it: loss.backward() fills
    delta.grad and, on the way, every weight's .grad (zeroed by the caller's optimiser)."""
    eps, step = hp.eps01, hp.step01
    delta = torch.empty_like(x).uniform_(-eps, eps, generator=generator)
    delta = ((x + delta).clamp(0, 1) - x).requires_grad_(True)
    with attacks.model_mode(model, hp.model_mode):
        for _ in range(hp.steps):
            F.cross_entropy(model(x + delta), y).backward()
            d = (delta.detach() + step * delta.grad.sign()).clamp(-eps, eps)
            delta.data = (x + d).clamp(0, 1) - x
            delta.grad.zero_()
    return (x + delta).detach()


class _Samples(torch.utils.data.Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(self.x[i]), self.y[i]


def _transform(aug, image_size):
    from torchvision.transforms import v2

    if aug.kind == "random_resized_crop":
        ops = [v2.RandomResizedCrop(aug.size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        ops = [v2.RandomCrop(image_size, padding=aug.pad), v2.RandomHorizontalFlip()]
    return v2.Compose(ops + [v2.ToDtype(torch.float32, scale=True)])


def sparse_model(model, mask):
    """The reference's sparse model: the mask re-applied by prune's forward pre-hooks."""
    import torch.nn.utils.prune as tprune

    for name, mod in model.net.named_modules():
        if isinstance(mod, nn.Conv2d) and f"{name}.weight" in mask:
            tprune.custom_from_mask(mod, "weight", mask[f"{name}.weight"])
    return model


def loader(train, aug, batch):
    transform = _transform(aug, train.x.shape[-1])
    return torch.utils.data.DataLoader(_Samples(train.x, train.y, transform), batch_size=batch, shuffle=True,
                                       num_workers=0, drop_last=True)


def epoch(model, batches, opt, attack, device, limit=None, reference_attack="backward"):
    """One epoch (or `limit` steps) of the plain loop."""
    model.train()
    for i, (x, y) in enumerate(batches):
        if i == limit:
            break
        x, y = x.to(device), y.to(device)
        if attack is not None:
            x = (plain_pgd if reference_attack == "backward" else attacks.pgd)(model, x, y, attack)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
