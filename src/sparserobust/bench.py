"""Training-step benchmark: the engine against a plain reference loop, in one run.

Reference = what a straightforward PyTorch script does: a torchvision DataLoader with
per-sample CPU transforms, fp32, torch.optim.SGD, the mask re-applied by forward pre-hooks
(torch.nn.utils.prune.custom_from_mask). Engine = sparserobust.engine.train_epoch: data on
the device as uint8, batch augmentation there, channels_last and bf16 autocast on CUDA, the
mask applied once after the optimiser step. Both run the same model, batch, attack and mask.
"""

import dataclasses
import platform
import time

import torch
from torch import nn

from . import attacks, data, engine, flops, hparams, masks, models, optim, pruning

# Dense bf16 tensor-core peak (FLOP/s) of GPUs the project has met; others print "n/a".
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}

CASES = {  # name: (arch, classes, image size, train augmentation)
    "demo": ("small_resnet:16-32-64", 10, 16, {"kind": "crop_flip", "pad": 2}),
    "preact_resnet18": ("preact_resnet18", 10, 32, {"kind": "crop_flip", "pad": 4}),
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
    return net, mask, data.ArrayData(x, y, classes), hparams.augment(aug)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_engine(case, batch, steps, attack, device):
    net, mask, train, aug = _setup(case, batch, steps)
    model = models.prepare(models.Normalized(net, [0.5] * 3, [0.25] * 3), device)
    hp = dataclasses.replace(hparams.train({"epochs": 1, "lr": 0.01, "batch_size": batch}), augment=aug,
                             train_attack=attack)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    train = data.to_device(train, device)
    mask = {n: m.to(device) for n, m in mask.items()}
    gen, dev_gen = torch.Generator().manual_seed(0), torch.Generator(device=device).manual_seed(1)
    warm = data.ArrayData(train.x[: 2 * batch], train.y[: 2 * batch], train.num_classes)
    engine.train_epoch(model, warm, hp, device, opt, gen, dev_gen, mask, engine.autocast_for(device))
    _sync(device)
    start = time.perf_counter()
    engine.train_epoch(model, train, hp, device, opt, gen, dev_gen, mask, engine.autocast_for(device))
    _sync(device)
    return time.perf_counter() - start, model


class _Samples(torch.utils.data.Dataset):
    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(self.x[i]), self.y[i]


def _reference_transform(aug, image_size):
    from torchvision.transforms import v2

    if aug.kind == "random_resized_crop":
        ops = [v2.RandomResizedCrop(aug.size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        ops = [v2.RandomCrop(image_size, padding=aug.pad), v2.RandomHorizontalFlip()]
    return v2.Compose(ops + [v2.ToDtype(torch.float32, scale=True)])


def run_reference(case, batch, steps, attack, device):
    import torch.nn.utils.prune as tprune

    net, mask, train, aug = _setup(case, batch, steps)
    for name, mod in net.named_modules():
        if isinstance(mod, nn.Conv2d):
            tprune.custom_from_mask(mod, "weight", mask[f"{name}.weight"])
    model = models.Normalized(net, [0.5] * 3, [0.25] * 3).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = torch.utils.data.DataLoader(_Samples(train.x, train.y, _reference_transform(aug, train.x.shape[-1])), batch_size=batch,
                                         shuffle=True, num_workers=0, drop_last=True)

    def epoch(limit):
        model.train()
        for i, (x, y) in enumerate(loader):
            if i == limit:
                break
            x, y = x.to(device), y.to(device)
            if attack is not None:
                x = attacks.pgd(model, x, y, attack)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    epoch(2)
    _sync(device)
    start = time.perf_counter()
    epoch(steps)
    _sync(device)
    return time.perf_counter() - start


def step_flops(case, batch, attack_steps):
    arch, classes, size, _ = CASES[case]
    net = models.build(arch, classes)
    _, per_image = flops.dense_layer_flops(net, (3, size, size))
    return per_image * batch * (attack_steps + 1) * 3


def measure(case, batch, steps, adversarial, device, attack_steps=10):
    attack = hparams.attack({"eps": 8, "step": 2, "steps": attack_steps, "model_mode": "train"}) if adversarial else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_engine, _ = run_engine(case, batch, steps, attack, device)
    mem_engine = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_ref = run_reference(case, batch, steps, attack, device)
    mem_ref = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    images = batch * steps
    f = step_flops(case, batch, attack_steps if adversarial else 0) * steps
    top = peak(device)
    return {"model": case, "step": f"PGD-{attack_steps} AT" if adversarial else "standard", "batch": batch,
            "engine_img_s": images / t_engine, "reference_img_s": images / t_ref, "ratio": t_ref / t_engine,
            "engine_peak_gib": mem_engine, "reference_peak_gib": mem_ref, "tflop_s": f / t_engine / 1e12,
            "peak_fraction": (f / t_engine) / top if top else None, "device": device_name(device)}
