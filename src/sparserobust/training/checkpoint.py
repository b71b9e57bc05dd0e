"""Resumable training: the full training state, checksummed and written atomically, and SIGTERM
(SLURM pre-emption) turned into a checkpoint at the next optimiser step."""

import contextlib
import os
import signal
import threading

import torch

from ..foundations import provenance


class Preempted(SystemExit):
    """Raised after the state was saved on SIGTERM; exits with 143 so SLURM / Snakemake retry."""

    def __init__(self):
        super().__init__(143)


class Checkpointer:
    def __init__(self, path, log=print):
        self.path = str(path)
        self.log = log
        self.stop_requested = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_term)

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
