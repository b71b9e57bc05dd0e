"""Data-parallel training (torchrun): one process per GPU, each takes its share of every global
batch, gradients are averaged by DistributedDataParallel and BatchNorm statistics are taken
over the global batch, so N processes train like one process with the same batch. World size
1 (no torchrun) is the same code path with nothing to share."""

import os

import torch
import torch.distributed as dist
from torch import nn


def world():
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank():
    return int(os.environ.get("RANK", "0"))


def active():
    return world() > 1


def is_main():
    return rank() == 0


def device(default):
    """Under torchrun on CUDA, the process's own GPU (LOCAL_RANK)."""
    if active() and default.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return default


def init(dev):
    """The process group: NCCL for CUDA tensors (DDP's gradients) and gloo for CPU ones (the epoch's
    sums, the per-step checkpoint decision), which "nccl" alone would refuse."""
    if active() and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("cpu:gloo,cuda:nccl" if dev.type == "cuda" else "gloo")


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the global batch of all processes (gloo/CPU, where SyncBatchNorm is not
    available): the per-channel sums are all-reduced with a differentiable all_reduce."""

    def forward(self, x):
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = all_reduce(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var.detach() * n / (n - 1))
        scale = self.weight / torch.sqrt(var + self.eps)
        return x * scale.view(1, -1, 1, 1) + (self.bias - mean * scale).view(1, -1, 1, 1)


def global_batchnorm(module):
    """Swap every BatchNorm2d for GlobalBatchNorm2d in place, keeping parameters and buffers."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats).to(child.weight.device)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            global_batchnorm(child)
    return module


def wrap(model, dev):
    """(the model to call for the training loss, the model itself for attacks and evaluation)."""
    if not active():
        return model
    if dev.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        global_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def shard(x, y):
    """This process's share of a global batch."""
    if not active():
        return x, y
    return x[rank()::world()], y[rank()::world()]


def sum_all(values):
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def agree(*flags):
    """Each flag true in every process when it is true in any (so all stop or save at the same step)."""
    if not active():
        return tuple(bool(f) for f in flags)
    t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def gather_all(values):
    """Every process's `values` (numbers), in rank order: a list of `world()` lists."""
    if not active():
        return [list(values)]
    t = torch.tensor(values, dtype=torch.float64)
    out = [torch.empty_like(t) for _ in range(world())]
    dist.all_gather(out, t)
    return [v.tolist() for v in out]
