"""SGD with momentum and weight decay, and the papers' LR schedules, without torch.optim.SGD.

The update is torch.optim.SGD's (dampening 0, no Nesterov): d = g + wd * w; b = d on the first
step, then b = m * b + d; w -= lr * b. Each step is one call of torch's own functional SGD
(torch.optim.sgd.sgd) with foreach=True: torch's multi-tensor kernels over the lists of
parameters, gradients and momentum buffers, so no Python loop over parameters.

Why not the torch.optim.SGD class: constructing any torch.optim.Optimizer imports torch._dynamo
(Optimizer.add_param_group is wrapped by torch._disable_dynamo), which dominates the many short
jobs of the demo; the functional call imports nothing. Measured with torch 2.14.1 on a 2-core
Intel Xeon without a GPU, in fresh processes, with a two-layer net: torch.optim.SGD(foreach=True),
(fused=True) and (foreach=False) each took 0.8-1.3 s to construct and imported torch._dynamo
(892 more modules); importing and constructing this class took 2.5-7 ms and a first
torch.optim.sgd.sgd(foreach=True) call 0.2-0.3 ms, neither importing torch._dynamo. foreach=True
gives parameters bit-identical to torch.optim.SGD's default (single-tensor) update on the CPU (the
same kernels in the same order); fused=True did not (last-bit differences on the 2-thread CPU), so
foreach is used and results stay those of torch.optim.SGD (tests/test_pruning.py). A step on that
CPU: 0.12 ms for the demo's small ResNet (0.18 ms with the former per-parameter loop), 26 ms for
ResNet-50 (20-23 ms with the loop: on the CPU the multi-tensor ops fall back to one kernel per
tensor, so they save only Python overhead there).
"""

import math

import torch
from torch.optim import sgd as torch_sgd


class SGD:
    """Plain SGD with momentum and weight decay over the parameters that require grad; a step
    skips the parameters whose grad is None (their momentum buffers are left as they are)."""

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
        grads = [p.grad for p in self.params]
        if all(g is not None for g in grads):
            self._update(self.params, grads, self.buffers)  # fills self.buffers in place on the first step
            return
        kept = [i for i, g in enumerate(grads) if g is not None]
        buffers = [self.buffers[i] for i in kept]
        self._update([self.params[i] for i in kept], [grads[i] for i in kept], buffers)
        for i, buf in zip(kept, buffers, strict=True):
            self.buffers[i] = buf

    def _update(self, params, grads, buffers):
        if params:
            torch_sgd.sgd(params, grads, buffers, foreach=True, weight_decay=self.weight_decay,
                          momentum=self.momentum, lr=self.lr, dampening=0.0, nesterov=False, maximize=False)

    def state_dict(self):
        return {"lr": self.lr, "buffers": self.buffers, "steps": self.steps}

    def load_state_dict(self, state):
        """Restore a state_dict(); each momentum buffer moves to its parameter's device and dtype (a
        checkpoint is read onto the CPU), as torch.optim.Optimizer.load_state_dict does."""
        buffers = list(state["buffers"])
        if len(buffers) != len(self.params):
            raise ValueError(f"optimiser state: {len(buffers)} momentum buffers for {len(self.params)} parameters")
        self.lr, self.steps = state["lr"], state.get("steps", 0)
        self.buffers = [None if b is None else b.to(device=p.device, dtype=p.dtype)
                        for b, p in zip(buffers, self.params, strict=True)]

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
