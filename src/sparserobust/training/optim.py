"""SGD with momentum and weight decay, and the papers' LR schedules, without torch.optim.

The update is torch.optim.SGD's (dampening 0, no Nesterov): d = g + wd * w;
b = d on the first step, then b = m * b + d; w -= lr * b. It is written out here because
the first call into torch.optim imports torch._dynamo (over a second per process), which
dominates the many short jobs of the demo; tests check it equals torch.optim.SGD.
"""

import math

import torch


class SGD:
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.params = [p for p in params if p.requires_grad]
        self._index = {id(p): i for i, p in enumerate(self.params)}  # buffer_of runs every sparse step
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers = [None] * len(self.params)
        self.steps = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad.clone()
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = d
                else:
                    self.buffers[i].mul_(self.momentum).add_(d)
                d = self.buffers[i]
            p.add_(d, alpha=-self.lr)

    def state_dict(self):
        return {"lr": self.lr, "buffers": self.buffers, "steps": self.steps}

    def load_state_dict(self, state):
        self.lr, self.buffers, self.steps = state["lr"], list(state["buffers"]), state.get("steps", 0)

    def buffer_of(self, param):
        i = self._index.get(id(param))
        return None if i is None else self.buffers[i]


def lr_at(hp, epoch):
    """The learning rate of (0-based) `epoch` under hp.schedule: step, cosine or constant."""
    if hp.schedule == "constant":
        return hp.lr
    if hp.schedule == "step":
        return hp.lr * hp.gamma ** sum(1 for m in hp.milestones if epoch >= m)
    if hp.schedule == "cosine":
        return hp.lr * (1 + math.cos(math.pi * epoch / max(1, hp.epochs))) / 2
    raise ValueError(f"unknown schedule {hp.schedule!r}: use step, cosine or constant")
