"""The names a config gives architectures and devices, checked without importing torch: the grammar
models.registry.build refuses anything outside of, and the devices foundations.devices.pick takes."""

import re

# the architecture names models.registry.build takes (checked here without importing torch)
ARCHS = ("resnet50, small_resnet[:W1-W2-...] (stage widths, e.g. small_resnet:16-32-64), preact_resnet18[:WIDTH], "
         "vgg16_bn[:WIDTH] (WIDTH: a width multiplier > 0, e.g. 0.25), wrnDEPTH_K (WideResNet with DEPTH = 6n + 4, "
         "e.g. wrn34_10)")
# the device names foundations.devices.pick takes: auto, or a torch device a job can train on
DEVICES = "auto, cpu, cuda, cuda:N (N = 0, 1, ...: the GPU's index), mps, xpu or xpu:N"


def arch_problem(arch):
    """Why models.registry.build cannot build `arch`, or None."""
    name, colon, arg = arch.partition(":")
    if name == "resnet50" or re.fullmatch(r"wrn\d+_\d+", name):
        if colon:
            return f"takes no ':{arg}'"
        if name.startswith("wrn"):
            depth, k = map(int, name[3:].split("_"))
            if depth < 10 or (depth - 4) % 6 or k < 1:
                return "is not a WideResNet: DEPTH must be 6n + 4 (10, 16, 22, 28, 34, ...) and K >= 1"
        return None
    if name == "small_resnet":
        if colon and not re.fullmatch(r"[1-9]\d*(-[1-9]\d*)*", arg):
            return "needs stage widths as positive integers joined by '-'"
        return None
    if name in ("preact_resnet18", "vgg16_bn"):
        if colon and not (re.fullmatch(r"\d+(\.\d*)?|\.\d+", arg) and float(arg) > 0):
            return "needs a width multiplier > 0 after ':'"
        return None
    return "is not an architecture of this workflow"
