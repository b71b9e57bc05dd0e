"""GPU slots for jobs that run side by side on one machine.

Snakemake's `--resources gpu=K` only caps how many GPUs the running jobs ask for in total; it
does not say which GPU each job gets, so without help every job lands on cuda:0. Each GPU id
here has a lock file; a job's launcher takes as many locks as the job has GPUs (flock, so the
operating system drops them when the job's last process ends, crashed or not) and hands the
ids to the job through CUDA_VISIBLE_DEVICES. Under SLURM the scheduler assigns devices itself.

Standard library only and no torch: the launcher imports this before every job starts.
"""

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

OVERRIDE = "SPARSEROBUST_GPUS"  # the ids jobs may use ("0,1", or "" / "none" for none)
LOCKS = "SPARSEROBUST_GPU_LOCKS"  # the folder of the lock files
ASSIGNED = "SPARSEROBUST_GPU_ASSIGNED"  # set by the launcher: the ids it gave the job
SLURM_GPU_VARS = ("SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS")


def _ids(text):
    """Entries of a comma-separated id list; like CUDA, the list ends at a negative index."""
    if text.strip().lower() == "none":
        return []
    ids = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        if re.fullmatch(r"-\d+", entry):
            break
        ids.append(entry)
    return ids


def nvidia_smi(query, env=os.environ):
    """The lines `nvidia-smi --query-gpu=QUERY` prints, or None when it is missing or fails."""
    exe = shutil.which("nvidia-smi", path=env.get("PATH", os.defpath))
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, env=dict(env))
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def driver(env=os.environ):
    """The NVIDIA driver version nvidia-smi reports (first GPU), or None."""
    lines = nvidia_smi("driver_version", env)
    return lines[0] if lines else None


def visible(env=os.environ):
    """The GPU ids jobs may use here: SPARSEROBUST_GPUS, else the parent's CUDA_VISIBLE_DEVICES,
    else the indices nvidia-smi lists, else as many as the driver lists under
    /proc/driver/nvidia/gpus, else none."""
    if OVERRIDE in env:
        return _ids(env[OVERRIDE])
    if "CUDA_VISIBLE_DEVICES" in env:
        return _ids(env["CUDA_VISIBLE_DEVICES"])
    listed = nvidia_smi("index", env)
    if listed is None:  # containers may have the driver but no nvidia-smi: count what it exposes
        found = Path(env.get("SPARSEROBUST_PROC_NVIDIA", "/proc/driver/nvidia/gpus"))
        listed = [str(i) for i in range(len(list(found.iterdir())))] if found.is_dir() else []
    return _ids(",".join(listed))


def under_slurm(env=os.environ):
    """SLURM runs this job and has set its CUDA_VISIBLE_DEVICES: assign nothing."""
    return bool(env.get("SLURM_JOB_ID"))


def slurm_gpus(env=os.environ):
    """(variable, value) of the first SLURM setting that gave this job GPUs, or None."""
    for name in SLURM_GPU_VARS:
        value = env.get(name, "").strip()
        if value and value != "0":
            return name, value
    return None


def default_lock_dir(env=os.environ):
    """One folder per machine and user, so that every checkout and workflow on this machine
    shares the same slots; SPARSEROBUST_GPU_LOCKS moves it."""
    return Path(env.get(LOCKS) or Path("/tmp") / f"sparserobust-gpu-slots-{os.getuid()}")


class Held(contextlib.AbstractContextManager):
    """GPU ids held by this process and the open lock files that hold them. Closing the files
    (or the end of every process that has them) frees the GPUs."""

    def __init__(self, ids, files):
        self.ids, self.files = ids, files

    def release(self):
        for f in self.files:
            f.close()
        self.files = []

    def __exit__(self, *exc):
        self.release()


def _lock_name(gpu_id):
    return "gpu" + re.sub(r"[^A-Za-z0-9_.-]", "_", gpu_id) + ".lock"


def _try_all(ids, n, lock_dir):
    """Open files of n free ids, or None (all or nothing, so two jobs never wait on each other's
    halves)."""
    files = []
    for gpu_id in ids:
        f = open(lock_dir / _lock_name(gpu_id), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        files.append((gpu_id, f))
        if len(files) == n:
            return files
    for _, f in files:
        f.close()
    return None


def hold(n, lock_dir=None, log=print, env=os.environ, poll=0.5):
    """Take n distinct GPU ids of visible(env), waiting while fewer are free; n above the
    number visible is clamped to it. Returns Held (also a context manager)."""
    ids = visible(env)
    if n > len(ids):
        log(f"launch: {n} GPUs asked for, {len(ids)} visible ({','.join(ids) or 'none'}): using {len(ids)}")
        n = len(ids)
    if n <= 0:
        return Held([], [])
    lock_dir = Path(lock_dir or default_lock_dir(env))
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while (got := _try_all(ids, n, lock_dir)) is None:
        if not waited:
            log(f"launch: waiting for {n} free GPU(s) of {','.join(ids)} (slots under {lock_dir})")
            waited = True
        time.sleep(poll)
    return Held([i for i, _ in got], [f for _, f in got])
