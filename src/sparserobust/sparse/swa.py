"""Stochastic weight averaging as Chen et al. 2021 ran it with distillation (VITA-Group/
Alleviate-Robust-Overfitting, main_adv.py and utils.py `moving_average`, `bn_update`).

From epoch `start`, every `every` epochs: the parameters are averaged with equal weights
(running mean, 1 / (n + 1)), then the averaged model's batch-norm statistics are recomputed by
one pass over the clean, augmented training data with cumulative averaging (momentum None).
The averaged model is evaluated on its own; validation picks its best epoch. For a sparse run
the mask of that epoch is applied to the average before the batch-norm pass.
"""

import copy

import torch

from ..data import arrays as data
from ..lottery import masks


class SWA:
    def __init__(self, model, start, every=1):
        self.avg = copy.deepcopy(model)
        self.start, self.every, self.count = start, every, 0

    def due(self, epoch):
        return epoch >= self.start and (epoch - self.start) % self.every == 0

    @torch.no_grad()
    def update(self, model):
        """Fold `model`'s parameters into the running mean (buffers are recomputed by `evaluated`)."""
        alpha = 1.0 / (self.count + 1)
        for avg, p in zip(self.avg.parameters(), model.parameters(), strict=True):
            avg.mul_(1.0 - alpha).add_(p.detach(), alpha=alpha)
        self.count += 1

    @torch.no_grad()
    def evaluated(self, train, hp, device, mask=None, seed=0):
        """A copy of the average with `mask` applied and batch-norm statistics from the training data."""
        model = copy.deepcopy(self.avg)
        if mask is not None:
            masks.apply(model.net, mask)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [mod.momentum for mod in norms]
        for mod in norms:
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the pass
        model.train()
        for x, _ in data.batches(train, hp.batch_size, device, hp.augment, torch.Generator().manual_seed(seed),
                                 shuffle=True):
            model(x)
        for mod, momentum in zip(norms, momenta, strict=True):
            mod.momentum = momentum
        return model.eval()

    def state(self):
        return {"avg": self.avg.state_dict(), "count": self.count}

    def set_state(self, state):
        self.avg.load_state_dict(state["avg"])
        self.count = state["count"]
