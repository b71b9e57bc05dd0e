"""Start one job on its own GPUs: python scripts/launch.py --gpus N [--lock-dir DIR] -- SCRIPT ARGS...

Holds N GPU slots (see sparserobust.foundations.gpus), sets CUDA_VISIBLE_DEVICES to them, then replaces
itself with `python SCRIPT ARGS...` (one process) or `torchrun --standalone --nproc_per_node=P
SCRIPT ARGS...` (P processes). The lock files stay open in the job, so its GPUs are taken until
its last process ends. Under SLURM (unless SPARSEROBUST_GPUS is set), or with N = 0, nothing
is assigned. No torch import here:
every job starts through this script.
"""

import argparse
import os
import sys
from pathlib import Path

import _path  # noqa: F401

from sparserobust.foundations import gpus


def parse(argv):
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(usage="launch.py --gpus N [--lock-dir DIR] -- SCRIPT ARGS...",
                                description=__doc__.split("\n\n")[1])
    p.add_argument("--gpus", type=int, required=True, help="the job's GPU count ({resources.gpu})")
    p.add_argument("--lock-dir", default=None,
                   help="folder of the GPU lock files (default: $SPARSEROBUST_GPU_LOCKS or /tmp/sparserobust-gpu-slots-UID)")
    args = p.parse_args(argv[:cut])
    args.command = argv[cut + 1:]
    if not args.command:
        p.error("give the job's SCRIPT ARGS... after --")
    return args


def command(procs, script_args):
    """The job's command line with this interpreter (or its torchrun) for `procs` processes."""
    if procs <= 1:
        return [sys.executable, *script_args]
    torchrun = Path(sys.executable).with_name("torchrun")
    run = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return [*run, "--standalone", f"--nproc_per_node={procs}", *script_args]


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    env.pop(gpus.ASSIGNED, None)  # only this launcher says the job was given GPUs
    procs = args.gpus
    # a SLURM job's GPUs are SLURM's; SPARSEROBUST_GPUS asks for slots anyway (a local run inside salloc)
    if args.gpus > 0 and (gpus.OVERRIDE in env or not gpus.under_slurm(env)):
        if gpus.visible(env):
            lock_dir = Path(args.lock_dir or gpus.default_lock_dir(env))
            held = gpus.hold(args.gpus, lock_dir, say, env)
            for f in held.files:
                os.set_inheritable(f.fileno(), True)
            ids = ",".join(held.ids)
            env["CUDA_VISIBLE_DEVICES"] = env[gpus.ASSIGNED] = ids
            procs = len(held.ids)
            say(f"launch: GPUs {ids} (slots under {lock_dir})")
        else:
            say("launch: no GPU on this machine; the job picks its device itself")
    cmd = command(procs, args.command)
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
