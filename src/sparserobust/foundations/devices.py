"""The device a job trains on, and a clear error instead of a silent CPU run.

`device: auto` uses CUDA when PyTorch sees a GPU and the CPU otherwise. When the job was meant
to run on a GPU (the config says cuda, SLURM allocated GPUs, or the launcher assigned some) but
PyTorch sees none, usually because the NVIDIA driver is older than the CUDA the torch wheel was
built for, pick raises NoGPU saying why and how to fix it, rather than training for days on
the CPU. Under torchrun on CUDA each process takes its own GPU (distributed.device).
"""

import os

import torch

from . import distributed, gpus

MIN_DRIVER = {13: "580", 12: "525", 11: "450"}  # the NVIDIA driver each CUDA major version needs
OLDER_WHEELS = "https://download.pytorch.org/whl/cu126"


class NoGPU(ValueError):
    """A GPU was expected and PyTorch cannot use one."""


def _expected(name, env):
    """Why this job should run on a GPU (the setting or variable), or None."""
    if name.startswith("cuda"):
        return f"device: {name} in the config"
    slurm = gpus.slurm_gpus(env)
    if slurm:
        return f"SLURM allocated GPUs to this job ({slurm[0]}={slurm[1]})"
    if env.get(gpus.ASSIGNED):
        return f"the launcher assigned GPUs to this job ({gpus.ASSIGNED}={env[gpus.ASSIGNED]})"
    return None


def _cuda_text():
    """What this torch needs: its version, the CUDA it was built for and that CUDA's driver."""
    built = torch.version.cuda
    if not built:
        return f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)", None
    major = int(built.split(".")[0])
    need = MIN_DRIVER.get(major)
    needs = f"NVIDIA driver >= {need}" if need else f"a driver for CUDA {major} (minimum unknown here)"
    return f"torch {torch.__version__} is built for CUDA {built}, which needs {needs}", need


def no_gpu_message(reason, env=os.environ):
    cuda, need = _cuda_text()
    drv = gpus.driver(env)
    have = f"nvidia-smi reports driver {drv}" if drv else "no NVIDIA driver found (nvidia-smi missing or failing)"
    if drv and need and drv.split(".")[0].isdigit() and int(drv.split(".")[0]) >= int(need):
        have += f" (new enough: check CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(not set)')})"
    return (f"{reason}, but PyTorch sees no usable CUDA GPU: {cuda}; {have}. Fix: update the NVIDIA driver, "
            f"or install a torch wheel built for an older CUDA (pip install torch --index-url {OLDER_WHEELS}), "
            f"or set device: cpu in the config to run on the CPU on purpose")


def pick(name="auto", log=print, env=os.environ):
    """The torch.device for config value `name` (auto, cpu, cuda, cuda:N), logged with why."""
    name = str(name).strip()
    if name == "cpu":
        log("device: cpu (device: cpu in the config)")
        return torch.device("cpu")
    if name != "auto" and not name.startswith("cuda"):
        dev = torch.device(name)
        log(f"device: {dev} (device: {name} in the config)")
        return dev
    if torch.cuda.is_available():
        dev = distributed.device(torch.device("cuda" if name == "auto" else name))
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(f"device: {name}: only {torch.cuda.device_count()} CUDA GPU(s) visible "
                             f"(CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(not set)')})")
        log(f"device: cuda:{index} ({torch.cuda.get_device_name(index)}; "
            f"CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(not set)')})")
        return dev
    reason = _expected(name, env)
    if reason:
        raise NoGPU(no_gpu_message(reason, env))
    log("device: cpu (device: auto and no CUDA GPU visible)")
    return torch.device("cpu")
