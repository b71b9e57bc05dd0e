"""AutoAttack robust accuracy (Croce & Hein 2020, L-inf), from torchattacks' implementation.

The standard version runs APGD-CE, APGD-T, FAB-T and Square one after another, each on the
images the previous ones left correct (torchattacks.MultiAttack). torchattacks' own AutoAttack
class builds these with 10 iterations; the reference code (fra31/auto-attack, version
"standard") uses 100 iterations, 9 target classes for APGD-T and FAB-T and 5000 Square queries,
so the same torchattacks attacks are assembled here with those settings (`steps`, `queries`).
The model is evaluated in eval mode and fp32 on inputs in [0, 1] (normalisation is inside it).
"""

import dataclasses

import torch

from ..data import arrays as data_mod
from . import attacks


@dataclasses.dataclass(frozen=True)
class AutoAttackHParams:
    eps: float = 8.0  # in 1/255 units, as the PGD settings
    n: int | None = 1000  # the first n test images (None: all)
    steps: int = 100  # APGD-CE, APGD-T and FAB-T iterations
    queries: int = 5000  # Square attack queries
    batch_size: int = 256
    seed: int = 0


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose input gradient is in the default memory layout: a channels_last model hands
    back channels_last gradients, which torchattacks' FAB reshapes with .view()."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous()


class _Plain(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(_ContiguousGrad.apply(x))


def standard(model, hp, num_classes):
    """torchattacks.MultiAttack([APGD-CE, APGD-T, FAB-T, Square]) with the reference settings."""
    import torchattacks

    eps, targets = hp.eps / 255.0, min(10, num_classes)  # n_classes - 1 = 9 target classes
    common = dict(norm="Linf", eps=eps, seed=hp.seed, n_restarts=1)
    return torchattacks.MultiAttack([
        torchattacks.APGD(model, loss="ce", steps=hp.steps, **common),
        torchattacks.APGDT(model, steps=hp.steps, n_classes=targets, **common),
        torchattacks.FAB(model, steps=hp.steps, multi_targeted=True, n_classes=targets, **common),
        torchattacks.Square(model, n_queries=hp.queries, **common),
    ])


def robust_accuracy(model, data, device, hp, num_classes, view=None, pgd=None):
    """{"aa", "clean", and with `pgd` (AttackHParams) "pgd"}: accuracies in percent on the first hp.n
    images of `data`, so that AutoAttack and PGD are compared on the same images."""
    subset = data.take(slice(0, min(hp.n, len(data)))) if hp.n else data
    counts = {"aa": 0, "clean": 0, **({"pgd": 0} if pgd is not None else {})}
    n = 0
    gen = torch.Generator(device=device).manual_seed(hp.seed)
    with attacks.model_mode(model, "eval"):
        # eval() on the wrapper too: torchattacks restores the mode it found on the model it holds
        attack = standard(_Plain(model).eval(), hp, num_classes)
        for x, y in data_mod.batches(subset, hp.batch_size, device, view):
            x = x.float().contiguous()  # torchattacks reshapes gradients with .view()
            inputs = {"aa": attack(x, y), "clean": x}
            if pgd is not None:
                inputs["pgd"] = attacks.pgd(model, x, y, pgd, gen)
            with torch.no_grad():
                for key, xs in inputs.items():
                    counts[key] += int((model(xs).argmax(1) == y).sum())
            n += len(y)
    return {key: 100 * c / n for key, c in counts.items()}


def from_spec(raw, eval_attack):
    """AutoAttackHParams from the config's `autoattack` mapping; eps defaults to the run's eval attack."""
    raw = dict(raw)
    raw.pop("enabled", None)
    raw.setdefault("eps", eval_attack.eps if eval_attack is not None else 8.0)
    return AutoAttackHParams(**raw)
