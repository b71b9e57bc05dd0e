"""FLOPs with torch's own counter (torch.utils.flop_counter): FLOPs = 2 x multiply-accumulates.

Sparse inference FLOPs count each conv / linear layer as its dense FLOPs times its density
(per-layer rule) or, as the authors' flops.py does, the whole dense model's FLOPs times the
global density (global rule); training FLOPs count every attack pass: per image per epoch, (attack steps + 1) passes of
1 forward + 2 backward (3 x inference FLOPs) under that epoch's mask.
"""

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def dense_layer_flops(net, input_shape):
    """({'<param name of a conv/linear weight>': FLOPs for one image}, total FLOPs for one image)."""
    was = net.training
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, *input_shape, device=device))
    net.train(was)
    counts = counter.get_flop_counts()
    root = type(net).__name__
    layers = {}
    for name, mod in net.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            layers[f"{name}.weight"] = sum(counts.get(f"{root}.{name}", {}).values())
    return layers, counter.get_total_flops()


def inference_flops(layer_flops, total, densities=None):
    """FLOPs of one image: each layer's dense FLOPs times its density (1 when not masked)."""
    densities = densities or {}
    layered = sum(layer_flops.values())
    return total - layered + sum(f * densities.get(n, 1.0) for n, f in layer_flops.items())


def training_flops(per_epoch_inference, n_images, attack_steps):
    """Sum over epochs of n_images x (attack_steps + 1) passes x 3 x inference FLOPs."""
    return sum(n_images * (attack_steps + 1) * 3 * f for f in per_epoch_inference)


def global_inference_flops(total, density):
    """The authors' rule (Sparsity-Win-Robust-Generalization flops.py: `flops(...) * args.density`):
    the whole dense model's FLOPs of one image times the global density of the masked weights."""
    return total * density
