"""FLOPs of every architecture the project builds, checked against an independent count.

The reference multiplies out each convolution's and linear layer's multiply-accumulates from the
shapes seen by forward hooks (2 FLOPs per MAC, per image), without torch's flop counter.
"""

import pytest
import torch
from torch import nn

from sparserobust.models import flops, registry

# (arch as written in the configs, classes, input side in px, device): small inputs where the network
# allows (the counts scale with the feature-map area, and every layer is still exercised). On the meta
# device both counts see the same shapes without initialising weights or doing arithmetic; one
# network also runs for real on the CPU.
ARCHS = [
    ("resnet50", 1000, 64, "meta"),
    ("small_resnet", 10, 16, "cpu"),
    ("small_resnet:8-16-32", 10, 16, "meta"),
    ("preact_resnet18", 10, 16, "meta"),
    ("preact_resnet18:0.25", 100, 16, "meta"),
    ("vgg16_bn", 10, 32, "meta"),       # five 2x2 max-pools: 32 px is the smallest input
    ("vgg16_bn:0.25", 10, 32, "meta"),
    ("wrn34_10", 10, 8, "meta"),
    ("wrn16_2", 200, 16, "meta"),
]


def hook_flops(net, side, device, batch=2):
    """{'<conv/linear name>.weight': FLOPs for one image} from the shapes each layer sees."""
    counts, handles = {}, []

    def conv_hook(name):
        def hook(mod, inputs, out):
            kh, kw = mod.kernel_size
            macs = out.shape[2] * out.shape[3] * mod.out_channels * (mod.in_channels // mod.groups) * kh * kw
            counts[name] = counts.get(name, 0) + 2 * macs
        return hook

    def linear_hook(name):
        def hook(mod, inputs, out):
            rows = out.numel() // out.shape[-1] // batch
            counts[name] = counts.get(name, 0) + 2 * rows * mod.in_features * mod.out_features
        return hook

    for name, mod in net.named_modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook(f"{name}.weight")))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook(f"{name}.weight")))
    net.eval()
    with torch.no_grad():
        net(torch.rand(batch, 3, side, side, device=device))
    for h in handles:
        h.remove()
    return counts


@pytest.mark.parametrize("arch,classes,side,device", ARCHS, ids=[f"{a}-{d}" for a, _, _, d in ARCHS])
def test_layer_and_inference_flops_equal_a_count_from_layer_shapes(arch, classes, side, device):
    with torch.device(device):
        net = registry.build(arch, classes)
    layers, total = flops.dense_layer_flops(net, (3, side, side))
    reference = hook_flops(net, side, device)
    names = [n for n, p in net.named_parameters() if n.endswith(".weight") and p.dim() in (2, 4)]
    assert sorted(reference) == sorted(names)  # every conv / linear weight ran
    assert layers == reference
    assert total == sum(reference.values())  # convolutions and linear layers are all the counted FLOPs
    assert flops.inference_flops(layers, total) == total
    # densities k/8: every product and sum is exact in float64 at these magnitudes
    densities = {n: (i % 8) / 8 for i, n in enumerate(names)}
    expected = sum(f * densities[n] for n, f in reference.items())
    assert flops.inference_flops(layers, total, densities) == expected
    partial = {names[0]: 0.5, names[-1]: 0.25}
    assert flops.inference_flops(layers, total, partial) == total - reference[names[0]] / 2 - reference[names[-1]] * 3 / 4


def test_resnet50_at_224_px_has_the_published_4_1_giga_macs():
    """torchvision's ResNet-50 card: 4.09 GFLOPS (multiply-accumulates) at 224 px; ours counts 2 per MAC."""
    with torch.device("meta"):  # shapes only: no weights to initialise, no arithmetic
        net = registry.build("resnet50", 1000)
    layers, total = flops.dense_layer_flops(net, (3, 224, 224))
    assert total == 8_178_368_512
    assert round(total / 2 / 1e9, 2) == 4.09
    assert layers["conv1.weight"] == 2 * 112 * 112 * 64 * 3 * 7 * 7
    assert layers["fc.weight"] == 2 * 2048 * 1000


def test_flops_of_dense_resnet18_equal_torch_counter_and_half_density_counts_half():
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    net = torchvision.models.resnet18().eval()
    layers, total = flops.dense_layer_flops(net, (3, 32, 32))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, 32, 32))
    assert total == counter.get_total_flops()
    assert flops.inference_flops(layers, total) == total
    assert sum(layers.values()) == total  # conv + linear are all the counted FLOPs
    half = flops.inference_flops(layers, total, {"layer1.0.conv1.weight": 0.5})
    assert total - half == layers["layer1.0.conv1.weight"] / 2
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert flops.dense_layer_flops(nn.Sequential(conv), (3, 8, 8))[1] == 2 * 8 * 8 * 8 * 3 * 9
    assert flops.training_flops([10.0, 5.0], n_images=2, attack_steps=10) == 2 * 11 * 3 * 15.0
