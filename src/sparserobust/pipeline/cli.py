"""Shared command-line plumbing of the thin scripts: --spec JSON, threads, logging."""

import argparse
import json
import os
import sys
from pathlib import Path

from ..foundations import timing

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"  # the thin entry points


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--spec", required=True, help="job settings as JSON (the Snakefile writes it)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("SNAKEMAKE_THREADS", "1")))
    p.add_argument("--batch-split", type=int, default=None,
                   help="GPUs the config asks for: each process trains at most batch_size / N images at "
                        "once and accumulates gradients when it was given fewer GPUs (an engine option)")
    return p


def parse(p, argv=None):
    import torch  # here, not at the top: the plot and table scripts use main() without torch

    args = p.parse_args(argv)
    args.spec = json.loads(args.spec)
    _JOB["spec"] = args.spec
    if args.batch_split:
        args.spec["engine"] = {**args.spec.get("engine", {}), "batch_split": args.batch_split}
    torch.set_num_threads(max(1, args.threads))
    if os.environ.get("SPARSEROBUST_FLOAT64") == "1":  # exactness tests: float64 everywhere
        torch.set_default_dtype(torch.float64)
    return args


def log(msg):
    """A line in the job's log; under torchrun only the first process writes."""
    if os.environ.get("RANK", "0") == "0":
        print(msg, flush=True)


_JOB = {}  # the parsed spec, for main()'s device check


def main(fn, device=True):
    """Check the job's device when it trains (`device`): say which and why, or stop when a GPU was
    meant and CUDA is unusable; then run fn() and write the job's timing line (foundations.timing) to stderr;
    print a one-line error (no traceback noise) on a known failure and exit 1."""
    try:
        spec = _JOB.get("spec") or {}
        if device and "device" in spec:
            from ..foundations import devices, distributed

            devices.pick(spec["device"], log if distributed.is_main() else (lambda msg: None))
        timing.mark("main")
        fn()
        if os.environ.get("RANK", "0") == "0":  # to stderr: some scripts print their result on stdout
            print(timing.line(), file=sys.stderr, flush=True)
    except (ValueError, OSError) as err:  # OSError: missing files, a full disk, permissions
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
    _quick_exit()


def _quick_exit():
    """End a finished job now. The interpreter's teardown after torch takes about 0.35 s (measured on a
    2-core CPU with torch 2.14.1), a large share of the demo's jobs of a few seconds. The outputs are
    written and closed by then; only a process started as one of scripts/ with no child process still
    alive (DataLoader workers and the like are left to the normal exit) ends this way."""
    import multiprocessing

    main = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if Path(main).resolve().parent != SCRIPTS or multiprocessing.active_children():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
