"""Typed hyperparameters, built from the validated config (OpenLTH style)."""

from dataclasses import dataclass, field, fields

CHECKPOINT_MINUTES = 15.0  # engine.checkpoint_minutes when the config does not set it


@dataclass(frozen=True)
class AttackHParams:
    """L-inf PGD in [0, 1] pixel space. eps and step are in 1/255 units as in the papers."""

    eps: float = 8.0
    step: float = 2.0
    steps: int = 10
    random_start: bool = True
    model_mode: str = "eval"  # the model's mode while the attack runs: "train" or "eval"

    @property
    def eps01(self):
        return self.eps / 255.0

    @property
    def step01(self):
        return self.step / 255.0


@dataclass(frozen=True)
class AugmentHParams:
    """Batch augmentation on the device. kind: none | crop_flip | random_resized_crop | resize_center_crop."""

    kind: str = "none"
    pad: int = 4
    size: int = 0
    resize: int = 0
    scale: tuple = (0.08, 1.0)
    flip: bool = True


@dataclass(frozen=True)
class TrainHParams:
    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"  # step | cosine | constant
    milestones: tuple = ()
    gamma: float = 0.1
    select: str = "last"  # model selection on validation: sa | ra | last
    train_attack: AttackHParams | None = None
    eval_attack: AttackHParams | None = None
    augment: AugmentHParams = field(default_factory=AugmentHParams)
    eval_view: AugmentHParams = field(default_factory=AugmentHParams)
    eval_batch_size: int = 256
    steps_per_epoch: int | None = None  # optimiser steps per epoch at most (None: the whole split)
    kd_ce: float = 1.0  # distillation (Chen et al. 2021): weight of the cross-entropy on the labels
    kd_weights: tuple = ()  # one weight per teacher, on T^2 x soft-target cross-entropy (teachers in order)
    kd_temperature: float = 2.0
    precision: str = "auto"  # engine: auto (bf16 autocast on CUDA that has it, else fp32) | fp32 | bf16
    eval_precision: str = "fp32"  # engine: evaluation in fp32 (default) | bf16 | train (as training)
    compile: bool = False  # engine: torch.compile the model for the attack and training passes
    batch_split: int = 1  # engine: GPUs the batch is meant for; fewer processes accumulate micro-batches
    checkpoint_minutes: float = CHECKPOINT_MINUTES  # engine: save the training state this often (0: every epoch)


def _build(cls, raw):
    if raw is None or isinstance(raw, cls):
        return raw
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def attack(raw):
    return _build(AttackHParams, raw)


def augment(raw):
    return _build(AugmentHParams, raw)


def train(raw, **overrides):
    """TrainHParams from a config mapping; nested attack/augment mappings become dataclasses."""
    raw = {**raw, **overrides}
    for key in ("train_attack", "eval_attack"):
        raw[key] = attack(raw.get(key))
    for key in ("augment", "eval_view"):
        if key in raw:
            raw[key] = augment(raw[key])
    return _build(TrainHParams, raw)


def from_spec(spec, raw):
    """TrainHParams of one of a job spec's training mappings, with the config's engine options."""
    return train(raw, **spec.get("engine", {}))
