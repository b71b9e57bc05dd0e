"""The training state is saved on a time interval (engine.checkpoint_minutes), checked after every
optimiser step and at epoch ends, and always on SIGTERM; a save inside an epoch resumes exactly.
The interval's clock is replaced by one that moves a minute per optimiser step (no sleeping)."""

import os
import shutil
import signal

import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams, provenance
from sparserobust.models import registry as models
from sparserobust.training import checkpoint, engine

CPU = torch.device("cpu")
EPOCHS, STEPS = 3, 4  # 64 images in batches of 16


class Clock:
    """A sparsifier that changes nothing: after every optimiser step it moves the fake clock on by a
    minute, and at step `term` it sends this process SIGTERM."""

    stop = False

    def __init__(self, term=None):
        self.minutes, self.term = 0.0, term

    def __call__(self):
        return 60 * self.minutes

    def after_step(self, step, opt):
        self.minutes += 1
        if step == self.term:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    def after_epoch(self, rec):
        pass


@pytest.fixture
def saves(monkeypatch, tmp_path):
    """Every save as (epoch, batch), with a copy of the file it wrote."""
    made, save = [], checkpoint.Checkpointer.save

    def spy(self, state):
        save(self, state)
        made.append((state["epoch"], state["batch"]))
        shutil.copy(self.path, tmp_path / f"save{len(made)}.resume")

    monkeypatch.setattr(checkpoint.Checkpointer, "save", spy)
    handler = signal.getsignal(signal.SIGTERM)
    yield made
    signal.signal(signal.SIGTERM, handler)


def run(monkeypatch, minutes, path=None, term=None):
    clock = Clock(term)
    monkeypatch.setattr(checkpoint, "now", clock)
    x, y = generate(7, 10, 64, 0, size=8)
    torch.manual_seed(0)
    model = models.prepare(models.Normalized(models.SmallResNet(10, (4, 8, 8)), [0.5] * 3, [0.25] * 3), CPU)
    hp = hparams.train({"epochs": EPOCHS, "lr": 0.05, "batch_size": 16, "schedule": "constant",
                        "train_attack": {"eps": 8, "step": 2, "steps": 1}}, checkpoint_minutes=minutes)
    history, _, state = engine.train(model, {"train": data.ArrayData(x, y, 10)}, hp, CPU, 0, log=lambda m: None,
                                     checkpoint=path, hooks=engine.Hooks(sparsifier=clock))
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history], state


def test_a_long_interval_saves_nothing_in_a_normal_run_but_sigterm_still_saves(monkeypatch, tmp_path, saves):
    path = tmp_path / "job.resume"
    run(monkeypatch, 60, path)  # 12 fake minutes of training
    assert saves == [] and not path.exists()
    with pytest.raises(SystemExit) as stop:
        run(monkeypatch, 60, path, term=6)
    assert stop.value.code == 143 and saves == [(1, 2)]  # at the step after the signal: epoch 2, batch 2
    assert provenance.load_torch(path)["batch"] == 2


def test_saves_follow_the_interval_and_a_mid_epoch_save_resumes_exactly(monkeypatch, tmp_path, saves):
    ref_history, ref_state = run(monkeypatch, 0)
    assert saves == []  # no path, no state
    run(monkeypatch, 0, tmp_path / "every_epoch.resume")
    assert saves == [(1, 0), (2, 0), (3, 0)]  # 0: after every epoch, never inside one
    saves.clear()
    history, state = run(monkeypatch, 2.5, tmp_path / "interval.resume")
    # a minute per step; due after 2.5 minutes: steps 3, 6, 9 and 12 (the last one the end of epoch 3)
    assert saves == [(0, 3), (1, 2), (2, 1), (2, 4)]
    assert history == ref_history and all(torch.equal(v, ref_state[k]) for k, v in state.items())
    for n, where in enumerate(list(saves[:4]), 1):  # resumed from each save inside an epoch
        path = tmp_path / f"resumed{n}.resume"
        shutil.copy(tmp_path / f"save{n}.resume", path)
        history, state = run(monkeypatch, 2.5, path)
        assert history == ref_history, where
        assert all(torch.equal(v, ref_state[k]) for k, v in state.items()), where


def test_a_bad_interval_is_refused_naming_the_key(tmp_path):
    for bad in (-1, float("nan"), "15", True, None):
        with pytest.raises(ValueError, match="engine.checkpoint_minutes"):
            checkpoint.Checkpointer(tmp_path / "x.resume", minutes=bad)
