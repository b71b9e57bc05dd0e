"""Resumable training: the full training state, checksummed and written atomically once
`engine.checkpoint_minutes` have passed since the last save (checked at optimiser steps and epoch
ends; 0: after every epoch), and SIGTERM (SLURM pre-emption) turned into a checkpoint at the next
optimiser step. A job killed outright (SIGKILL, a node failure) resumes from its last save and
loses at most that interval of training; a pre-empted one loses nothing."""

import contextlib
import math
import os
import signal
import threading
import time

import torch

from ..foundations import distributed, provenance


class Preempted(SystemExit):
    """Raised after the state was saved on SIGTERM; exits with 143 so SLURM / Snakemake retry."""

    def __init__(self):
        super().__init__(143)


def now():
    """The clock of the save interval, in seconds (a function, so tests can replace it)."""
    return time.monotonic()


def check_minutes(minutes):
    """`minutes` as a float, or a ValueError naming the config key."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not math.isfinite(minutes) \
            or minutes < 0:
        raise ValueError(f"engine.checkpoint_minutes: {minutes!r}; give a number >= 0 (minutes between saves of "
                         "the training state; 0: after every epoch)")
    return float(minutes)


class Checkpointer:
    """The training state file of one job: `due` says when to save it (every `minutes`, counted from
    the start and from each save; minutes=0: at every epoch end), `stop_requested` when SIGTERM came."""

    def __init__(self, path, log=print, minutes=0.0):
        self.path = str(path)
        self.log = log
        self.interval = 60 * check_minutes(minutes)
        self.last_save = now()
        self.stop_requested = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_term)

    def due(self, epoch_end=False):
        """Whether to save now: at an epoch end when the interval is 0, else once it has passed."""
        if self.interval == 0:
            return epoch_end
        return now() - self.last_save >= self.interval

    def _on_term(self, signum, frame):
        self.stop_requested = True

    def load(self):
        """The saved state, or None; a corrupt or truncated file is refused, never loaded."""
        if not os.path.exists(self.path):
            return None
        state = provenance.load_torch(self.path)
        self.log(f"resuming from {self.path}: epoch {state['epoch']}, batch {state['batch']}")
        return state

    def save(self, state):
        provenance.save_torch(self.path, state)
        self.last_save = now()


def rng_state(gen, dev_gen):
    out = {"gen": gen.get_state(), "dev_gen": dev_gen.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state, gen, dev_gen):
    gen.set_state(state["gen"])
    dev_gen.set_state(state["dev_gen"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def own_sums(saved):
    """This process's running sums (loss sum, correct, n) of a saved mid-epoch state, which holds every
    process's (a list in rank order; a single triple is one process's). Resumed with another number of processes, the first takes
    their totals and the others start from zero, so the epoch's totals are still those of all images."""
    per_process = [saved] if isinstance(saved[0], int | float) else [list(s) for s in saved]
    if len(per_process) == distributed.world():
        return tuple(per_process[distributed.rank()])
    if distributed.is_main():
        return tuple(sum(s[k] for s in per_process) for k in range(3))
    return (0.0, 0, 0)


def resume_path(out):
    """Where a job's training state lives while it runs (beside its output; removed at the end)."""
    return f"{out}.resume"


def finished(out):
    """Remove the job's training state once its output is written (the first process only, under
    torchrun: the others may finish first and must not take the state away from it)."""
    if os.environ.get("RANK", "0") != "0":
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(resume_path(out))
