"""Atomic writes and the provenance record every output carries."""

import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from . import __version__


def _atomic(path, write):
    """Write through a temporary file in the target folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_bytes(path, data: bytes):
    return _atomic(path, lambda h: h.write(data))


def write_text(path, text: str):
    return write_bytes(path, text.encode())


def write_json(path, obj):
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_torch(path, obj):
    import torch

    return _atomic(path, lambda h: torch.save(obj, h))


def code_version():
    """The git commit of the repository (with '+dirty' when it has changes), or 'unknown'."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def library_versions():
    import numpy
    import torch

    versions = {"python": platform.python_version(), "torch": str(torch.__version__),
                "numpy": numpy.__version__, "package": __version__}
    for name in ("torchvision", "snakemake", "pandas"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def record(config=None, seed=None, **extra):
    """The provenance block stored with every output: config, seed, code and library versions."""
    out = {"config": config, "seed": seed, "code_version": code_version(),
           "versions": library_versions(), "host": platform.node()}
    out.update(extra)
    return out
