"""The job's own clock, for the startup share of every rule (scripts/startup_share.py).

A job marks when its work began (`cli.main` calls the stage) and, when it trains, when its first
training step ran (the engine, the segmentation loop). At the end, `cli.main` writes one line to
the job's log with each mark's time and the end's, in seconds since the process started (the
launcher execs the job in the same process, so that clock starts with the launcher). What the
job spent before its first step (interpreter, imports, data and model set-up) is that mark's time.
"""

import os
import time

_MARKS = {}


def age():
    """Seconds since this process started: from /proc (Linux, to a clock tick), else psutil's
    creation time (other systems)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError, IndexError):
        import psutil

        return time.time() - psutil.Process().create_time()


def mark(name):
    """Remember the first time `name` happens in this process (later calls change nothing)."""
    _MARKS.setdefault(name, age())


def first_step():
    mark("first_step")


def line():
    """`timing: first_step_at_s=... main_at_s=... end_at_s=...` (only the marks that were made)."""
    parts = [f"{name}_at_s={t:.3f}" for name, t in sorted(_MARKS.items())]
    return "timing: " + " ".join([*parts, f"end_at_s={age():.3f}"])


def parse(text):
    """{mark: seconds since the process started} from the last timing line of a log ({} if none)."""
    found = {}
    for row in text.splitlines():
        if row.startswith("timing: "):
            found = {k.removesuffix("_at_s"): float(v) for k, v in
                     (part.split("=", 1) for part in row[len("timing: "):].split())}
    return found
