"""Training-step benchmark: the engine against a plain reference loop, in one run.

Reference = the plain loop of sparserobust.performance.reference. Engine =
sparserobust.training.engine.train_epoch: data on the device as uint8, batch augmentation there,
channels_last, bf16 autocast on CUDA, input-only gradients in the attack, the mask applied once
after the optimiser step. Same model, batch, attack, mask.
"""

import dataclasses
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ..data import arrays as data
from ..foundations import hparams
from ..lottery import masks, pruning
from ..models import registry as models
from ..training import attacks, engine, optim
from . import reference

# Dense bf16 tensor-core peak (FLOP/s, no sparsity) by device-name part, first match wins
# (the PCIe H100 before the SXM one); other devices print "n/a" for the fraction.
PEAK_BF16 = {"H100 PCIe": 756e12, "H100": 989e12, "H200": 989e12, "A100": 312e12}

CASES = {  # name: (arch, classes, image size, train augmentation)
    "demo": ("small_resnet:16-32-64", 10, 16, {"kind": "crop_flip", "pad": 2}),
    "preact_resnet18": ("preact_resnet18", 10, 32, {"kind": "crop_flip", "pad": 4}),
    "wrn34_10": ("wrn34_10", 10, 32, {"kind": "crop_flip", "pad": 4}),
    "vgg16_bn": ("vgg16_bn", 10, 32, {"kind": "crop_flip", "pad": 4}),
    "resnet50": ("resnet50", 10, 224, {"kind": "random_resized_crop", "size": 224}),
}


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def peak(device):
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def _setup(case, batch, steps, seed=0):
    arch, classes, size, aug = CASES[case]
    torch.manual_seed(seed)
    src = 32 if size == 224 else size  # the paper upsamples 32 px images to 224
    n = batch * steps
    x = torch.randint(0, 256, (n, 3, src, src), dtype=torch.uint8)
    y = torch.randint(0, classes, (n,))
    net = models.build(arch, classes)
    mask = pruning.prune("magnitude", dict(net.named_parameters()), masks.ones_like(net), fraction=0.8)
    model = models.Normalized(net, [0.5] * 3, [0.25] * 3)
    return model, mask, data.ArrayData(x, y, classes), hparams.augment(aug)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device, fn):
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def run_engine(case, batch, steps, attack, device, precision="auto", compile=False):
    """(seconds for `steps` engine steps, seconds of one masks.apply) after two warm-up steps."""
    model, mask, train, aug = _setup(case, batch, steps)
    model = models.prepare(model, device)
    hp = dataclasses.replace(hparams.train({"epochs": 1, "lr": 0.01, "batch_size": batch}), augment=aug,
                             train_attack=attack, precision=precision, compile=compile)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    train = data.to_device(train, device)
    mask = {n: m.to(device) for n, m in mask.items()}
    gen, dev_gen = torch.Generator().manual_seed(0), torch.Generator(device=device).manual_seed(1)
    ctx = engine.StepContext(hp, device, opt, gen, dev_gen, engine.autocast_for(device, precision), mask,
                             nets=engine.compiled(model, hp, device))
    warm = data.ArrayData(train.x[: 2 * batch], train.y[: 2 * batch], train.num_classes)
    engine.train_epoch(model, warm, ctx)
    seconds = _timed(device, lambda: engine.train_epoch(model, train, ctx))
    reps = 20
    mask_seconds = _timed(device, lambda: [masks.apply(model.net, mask) for _ in range(reps)]) / reps
    return seconds, mask_seconds


def run_reference(case, batch, steps, attack, device, reference_attack="backward"):
    model, mask, train, aug = _setup(case, batch, steps)
    model = reference.sparse_model(model, mask).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = reference.loader(train, aug, batch)
    reference.epoch(model, loader, opt, attack, device, 2, reference_attack)
    return _timed(device, lambda: reference.epoch(model, loader, opt, attack, device, steps, reference_attack))


def step_flops(case, attack):
    """FLOPs of one image through one engine step, counted by torch's FLOP counter on a real
    step: attack passes (forward + input-gradient backward) and the training forward + backward."""
    model, _, _, _ = _setup(case, 2, 1)
    size = CASES[case][2]
    x, y = torch.rand(2, 3, size, size), torch.randint(0, CASES[case][1], (2,))
    with FlopCounterMode(display=False) as counter:
        if attack is not None:
            x = attacks.pgd(model, x, y, attack)
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 2


def measure(case, batch, steps, adversarial, device, attack_steps=10, precision="auto", compile=False,
            repeats=3, reference_attack="backward"):
    """One table row: engine and reference alternate `repeats` times; medians are reported.
    reference_attack: "backward" (plain PGD, weight gradients too) or "input" (attacks.pgd)."""
    attack = hparams.attack({"eps": 8, "step": 2, "steps": attack_steps, "model_mode": "train"}) if adversarial else None
    cuda = device.type == "cuda"
    t_engine, t_mask, t_ref, mem_engine, mem_ref = [], [], [], 0.0, 0.0
    for _ in range(repeats):
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        seconds, mask_seconds = run_engine(case, batch, steps, attack, device, precision, compile)
        t_engine.append(seconds)
        t_mask.append(mask_seconds)
        mem_engine = max(mem_engine, torch.cuda.max_memory_allocated(device) / 2**30) if cuda else None
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        t_ref.append(run_reference(case, batch, steps, attack, device, reference_attack))
        mem_ref = max(mem_ref, torch.cuda.max_memory_allocated(device) / 2**30) if cuda else None
    t_engine, t_mask, t_ref = (statistics.median(t) for t in (t_engine, t_mask, t_ref))
    images = batch * steps
    per_image = step_flops(case, attack)
    rate = per_image * images / t_engine
    top = peak(device)
    return {"model": case, "step": f"PGD-{attack_steps} AT" if adversarial else "standard", "batch": batch,
            "engine_img_s": images / t_engine, "reference_img_s": images / t_ref, "ratio": t_ref / t_engine,
            "mask_overhead_pct": 100 * t_mask / (t_engine / steps), "step_gflop": per_image * batch / 1e9,
            "engine_peak_gib": mem_engine,
            "reference_peak_gib": mem_ref, "tflop_s": rate / 1e12, "peak_fraction": rate / top if top else None,
            "precision": precision, "compile": compile, "reference_attack": reference_attack,
            "device": device_name(device)}
