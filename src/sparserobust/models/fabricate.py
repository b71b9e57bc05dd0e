"""A seeded torchvision ResNet-50 written in each published checkpoint layout (sparserobust.models.pretrained reads them).

- torchvision: download.pytorch.org/models/resnet50-19c8e357.pth (2017) is a bare OrderedDict as saved by
  torch 0.2/0.3: legacy (non-zip) serialization, tensors pickled with torch._utils._rebuild_tensor, CPU
  storages, and no BatchNorm `num_batches_tracked` buffers (they came with torch 0.4).
- fast_adversarial: locuslab/fast_adversarial, ImageNet/main_fast.py with lib/utils.py save_checkpoint:
  {epoch, arch, state_dict of DataParallel (module.*), best_prec1, optimizer (SGD, two parameter groups:
  no weight decay for BatchNorm)}, saved from cuda:0 with the legacy serialization of its time (torch 1.x).
- robustness: MadryLab/robustness, robustness/train.py save_checkpoint (torch.save(..., pickle_module=dill))
  of sd_info {model, optimizer, schedule, epoch, amp, adv_prec1}; model is DataParallel(AttackerModel)
  (robustness/attacker.py): module.normalizer.new_mean/new_std, module.model.*,
  module.attacker.normalize.new_mean/new_std, module.attacker.model.* (the same tensors as module.model.*).
  Saved from cuda:0, both legacy (as the published .ckpt files are) and zip.
"""

import pickle
import types
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ..foundations.provenance import sha256_of

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FILES = {"torchvision": "resnet50-19c8e357.pth", "fast_adversarial": "fast_adversarial_imagenet_eps4.pth",
         "robustness": "resnet50_linf_eps4.0.ckpt", "robustness_zip": "resnet50_linf_eps4.0.zip.ckpt"}
_SAVED_ON = []


def _location(storage):
    return _SAVED_ON[-1] if _SAVED_ON and storage.device.type == "cpu" else None


torch.serialization.register_package(0, _location, lambda storage, location: None)


class _V1Pickler(pickle.Pickler):
    """Tensors as torch 0.2 / 0.3 pickled them: _rebuild_tensor(typed storage, offset, size, stride)."""

    dispatch_table = {torch.Tensor: lambda t: (torch._utils._rebuild_tensor, (
        torch.storage.TypedStorage(wrap_storage=t.untyped_storage(), dtype=t.dtype, _internal=True),
        t.storage_offset(), tuple(t.size()), t.stride()))}


_PICKLE_V1 = types.SimpleNamespace(__name__="pickle", Pickler=_V1Pickler, dump=pickle.dump)


class _Wrap(nn.Module):
    """A container named like the authors' wrappers (DataParallel, AttackerModel, Attacker)."""

    def __init__(self, **children):
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


class _Normalize(nn.Module):
    """robustness.tools.helpers.InputNormalize: buffers new_mean, new_std of shape [3, 1, 1]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("new_mean", torch.tensor(MEAN)[..., None, None])
        self.register_buffer("new_std", torch.tensor(STD)[..., None, None])


def resnet50(seed=0):
    """torchvision.models.resnet50(weights=None) after torch.manual_seed(seed); the global RNG is left alone."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torchvision.models.resnet50(weights=None)


def _sgd(groups, lr, initial_lr, seed):
    """SGD(momentum=0.9).state_dict() as torch 1.x wrote it, with momentum buffers; groups: [(params, decay)]."""
    gen, state, param_groups, first = torch.Generator().manual_seed(seed), {}, [], 0
    for params, decay in groups:
        ids = list(range(first, first + len(params)))
        first += len(params)
        state.update({i: {"momentum_buffer": torch.randn(p.shape, generator=gen) * 1e-3}
                      for i, p in zip(ids, params)})
        group = {"lr": lr, "momentum": 0.9, "dampening": 0, "weight_decay": decay, "nesterov": False}
        param_groups.append({**group, **({"initial_lr": initial_lr} if initial_lr else {}), "params": ids})
    return {"state": state, "param_groups": param_groups}


def fast_adversarial_blob(net, seed=0):
    """What main_fast.py passes to save_checkpoint after its last epoch (configs_fast_4px_phase3.yml)."""
    bn = {f"{name}.{p}" for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)
          for p in ("weight", "bias")}
    named = list(net.named_parameters())
    groups = [([p for n, p in named if n not in bn], 1e-4), ([p for n, p in named if n in bn], 0)]
    return {"epoch": 15, "arch": "resnet50", "state_dict": _Wrap(module=net).state_dict(),
            "best_prec1": torch.tensor([0.1]), "optimizer": _sgd(groups, 0.0004, None, seed + 1)}


def robustness_blob(net, seed=0):
    """robustness/train.py's sd_info after the last of 90 epochs (SGD lr 0.1, StepLR every 30), adversarially
    trained (so the accuracy is stored as adv_prec1)."""
    model = _Wrap(normalizer=_Normalize(), model=net, attacker=_Wrap(normalize=_Normalize(), model=net))
    schedule = {"step_size": 30, "gamma": 0.1, "base_lrs": [0.1], "last_epoch": 89, "_step_count": 90,
                "_get_lr_called_within_step": False, "_last_lr": [0.001]}
    optimizer = _sgd([(list(model.parameters()), 1e-4)], 0.001, 0.1, seed + 1)
    return {"model": _Wrap(module=model).state_dict(), "optimizer": optimizer,
            "schedule": schedule, "epoch": 90, "amp": None, "adv_prec1": torch.tensor([0.1])}


def _save(obj, path, legacy, pickle_module=pickle, location=None):
    """torch.save with storages tagged as saved on `location` (cuda:0 for the training checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _SAVED_ON.append(location)
    try:
        torch.save(obj, path, pickle_module=pickle_module, _use_new_zipfile_serialization=not legacy)
    finally:
        _SAVED_ON.pop()
    return path, sha256_of(path)


def weights(root, seed=0):
    """Write FILES under `root` from resnet50(seed); returns {name: (path, sha256)}. The loaded content is
    deterministic; the bytes of the legacy files are not, as torch names their storages by memory address."""
    import dill

    root, net = Path(root), resnet50(seed)
    bare = OrderedDict((k, v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked"))
    robust = robustness_blob(net, seed)
    return {
        "torchvision": _save(bare, root / FILES["torchvision"], True, _PICKLE_V1),
        "fast_adversarial": _save(fast_adversarial_blob(net, seed), root / FILES["fast_adversarial"], True,
                                  location="cuda:0"),
        "robustness": _save(robust, root / FILES["robustness"], True, dill, "cuda:0"),
        "robustness_zip": _save(robust, root / FILES["robustness_zip"], False, dill, "cuda:0"),
    }
