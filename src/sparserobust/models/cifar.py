"""The CIFAR architectures of Sparsity Winning Twice: PreAct ResNet-18, VGG-16-BN, WideResNet-34-10.

Input resolution free (32 px CIFAR, 64 px Tiny-ImageNet): global average pooling before the
classifier. Width multipliers make the same code the demo's small networks.
"""

import torch
import torch.nn.functional as F
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        short = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = F.relu(self.bn2(out))
        return self.conv2(out) + short


class PreActResNet(nn.Module):
    """PreAct ResNet-18 (blocks 2-2-2-2) and WideResNet (WRN-depth-k: 3 stages, widened)."""

    def __init__(self, blocks, widths, num_classes, stem=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        layers, cin = [], stem
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stage = [PreActBlock(cin if j == 0 else w, w, 1 if i == 0 or j else 2) for j in range(n)]
            layers.append(nn.Sequential(*stage))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = F.relu(self.bn(self.layers(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


def preact_resnet18(num_classes, width=1.0):
    w = [max(4, int(c * width)) for c in (64, 128, 256, 512)]
    return PreActResNet([2, 2, 2, 2], w, num_classes, stem=w[0])


def wide_resnet(num_classes, depth=34, k=10):
    n = (depth - 4) // 6
    return PreActResNet([n] * 3, [16 * k, 32 * k, 64 * k], num_classes, stem=16)


VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self, num_classes, width=1.0):
        super().__init__()
        layers, cin = [], 3
        for v in VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                c = max(4, int(v * width))
                layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def build(arch, num_classes):
    """preact_resnet18[:width], vgg16_bn[:width], wrn34_10 (or wrnD_K)."""
    name, _, arg = arch.partition(":")
    if name == "preact_resnet18":
        return preact_resnet18(num_classes, float(arg or 1.0))
    if name == "vgg16_bn":
        return VGG(num_classes, float(arg or 1.0))
    if name.startswith("wrn"):
        depth, k = name[3:].split("_")
        return wide_resnet(num_classes, int(depth), int(k))
    return None
