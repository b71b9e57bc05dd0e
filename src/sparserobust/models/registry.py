"""Networks: torchvision ResNet-50 (the papers), a small ResNet (the demo), normalisation inside the model."""

import torch
from torch import nn

from ..foundations import names


class Normalized(nn.Module):
    """Normalisation as the first layer, so attacks work in [0, 1] pixel space."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.get_default_dtype()).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.get_default_dtype()).view(1, -1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class SmallResNet(nn.Module):
    """A CIFAR-style ResNet with torchvision's parameter names (conv1, layerI.J..., fc)."""

    def __init__(self, num_classes=10, widths=(16, 32, 64), blocks=1):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        cin = widths[0]
        for i, w in enumerate(widths):
            layer = [BasicBlock(cin if j == 0 else w, w, 1 if i == 0 or j else 2) for j in range(blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cin = w
        self.depth = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(self.depth):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build(arch, num_classes):
    """The bare network (no normalisation) for an architecture name from the config (the grammar:
    foundations.names)."""
    problem = names.arch_problem(arch)
    if problem:
        raise ValueError(f"model.arch {arch!r} {problem}; known: {names.ARCHS}")
    if arch == "resnet50":
        from torchvision.models import resnet50

        return resnet50(num_classes=num_classes)
    from . import cifar as cifar_models

    net = cifar_models.build(arch, num_classes)
    if net is not None:
        return net
    # small_resnet or small_resnet:W1-W2-W3, the one name left
    widths = tuple(int(w) for w in arch.split(":")[1].split("-")) if ":" in arch else (16, 32, 64)
    return SmallResNet(num_classes, widths)


def new_head(net, num_classes, seed):
    """Replace the classifier by a freshly initialised one (seeded) for a downstream task."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    torch.random.set_rng_state(gen_state)
    return net


def prepare(model, device):
    """Move to the device, channels_last (faster convolutions on CUDA and, with oneDNN, on CPU)."""
    return model.to(device).to(memory_format=torch.channels_last)


def network(spec, num_classes, ds):
    """The spec's architecture with `num_classes` outputs and the dataset's normalisation inside."""
    return Normalized(build(spec["arch"], num_classes), ds["mean"], ds["std"])
