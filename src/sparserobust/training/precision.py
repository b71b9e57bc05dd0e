"""Autocast contexts: training by TrainHParams.precision, evaluation by TrainHParams.eval_precision.

Results are decided in full precision by default: final test SA/RA, validation (model selection),
transfer attacks and AutoAttack run in fp32 whatever the training precision, because bf16 input
gradients can weaken PGD and inflate RA. eval_precision "train" evaluates like training (bf16 on
GPUs that have it) for those who accept that.
"""

import contextlib
import functools

import torch

PRECISIONS = ("auto", "fp32", "bf16")
EVAL_PRECISIONS = ("fp32", "bf16", "train")


def autocast_for(device, precision="auto"):
    """The autocast context of TrainHParams.precision: auto = bf16 on CUDA GPUs that support it,
    fp32 elsewhere; bf16 forces bf16 autocast (on the CPU too); fp32 turns it off."""
    if precision not in PRECISIONS:
        raise ValueError(f"engine.precision {precision!r}: use one of {PRECISIONS}")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16":
        return functools.partial(torch.autocast, device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def eval_autocast(device, hp):
    """The autocast context evaluation uses under `hp` (fp32 unless engine.eval_precision says so)."""
    return eval_autocast_for(device, hp.precision, hp.eval_precision)


def eval_autocast_for(device, precision="auto", eval_precision="fp32"):
    """The same from the config's engine options (precision, eval_precision)."""
    if eval_precision not in EVAL_PRECISIONS:
        raise ValueError(f"engine.eval_precision {eval_precision!r}: use one of {EVAL_PRECISIONS}")
    return autocast_for(device, precision if eval_precision == "train" else eval_precision)
