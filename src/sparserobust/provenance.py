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
    """Write through a temporary file in the target folder, then rename it into place.
    Under torchrun only the first process (RANK 0) writes; the others share its files."""
    path = Path(path)
    if int(os.environ.get("RANK", "0")) != 0:
        return path
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


def save_plain_torch(path, obj):
    """A plain torch.save file (the layout published checkpoints have), written atomically."""
    import torch

    return _atomic(path, lambda h: torch.save(obj, h))


MAGIC = b"SRCK1"  # checksummed container: MAGIC, 64 hex digits of sha256(payload), newline, payload


def save_torch(path, obj):
    """torch.save into a checksummed container, atomically (temporary file, then rename)."""
    import hashlib
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    return _atomic(path, lambda h: (h.write(header), h.write(payload)))


def load_torch(path):
    """Read a file written by save_torch: the checksum is verified before anything is unpickled,
    and only tensors and plain containers are accepted (weights_only)."""
    import hashlib
    import io

    import torch

    with open(path, "rb") as handle:
        blob = handle.read()
    head = len(MAGIC) + 65
    if not blob.startswith(MAGIC) or len(blob) < head:
        raise ValueError(f"{path}: not a checksummed file of this project (or truncated); delete it "
                         "and rebuild it")
    expected, payload = blob[len(MAGIC):head - 1].decode(), blob[head:]
    if hashlib.sha256(payload).hexdigest() != expected:
        raise ValueError(f"{path}: checksum mismatch: the file is corrupt or truncated; delete it and "
                         "rebuild it (snakemake reruns the job that makes it)")
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)


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
