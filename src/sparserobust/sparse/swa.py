"""Stochastic weight averaging as Chen et al. 2021 ran it with distillation (VITA-Group/
Alleviate-Robust-Overfitting, main_adv.py and utils.py `moving_average`, `bn_update`), on
torch.optim.swa_utils (the same rules).

From epoch `start`, every `every` epochs: the parameters join an equal-weight running mean
(AveragedModel's default), then the averaged model's batch-norm statistics are recomputed by
one pass over the clean, augmented training data with cumulative averaging (update_bn).
The averaged model is evaluated on its own; validation picks its best epoch. For a sparse run
the mask of that epoch is applied to the average before the batch-norm pass.
"""

import copy

import torch
from torch.optim.swa_utils import AveragedModel, update_bn

from ..data import arrays as data
from ..lottery import masks


class SWA:
    def __init__(self, model, start, every=1):
        self.avg = AveragedModel(model)
        self.start, self.every = start, every

    def due(self, epoch):
        return epoch >= self.start and (epoch - self.start) % self.every == 0

    def update(self, model):
        """Fold `model`'s parameters into the running mean (buffers are recomputed by `evaluated`)."""
        self.avg.update_parameters(model)

    @torch.no_grad()
    def evaluated(self, train, hp, device, mask=None, seed=0):
        """A copy of the average with `mask` applied and batch-norm statistics from the training data."""
        model = copy.deepcopy(self.avg.module)
        if mask is not None:
            masks.apply(model.net, mask)
        update_bn(data.batches(train, hp.batch_size, device, hp.augment, torch.Generator().manual_seed(seed),
                               shuffle=True), model)
        return model.eval()

    def state(self):
        return self.avg.state_dict()

    def set_state(self, state):
        self.avg.load_state_dict(state)
