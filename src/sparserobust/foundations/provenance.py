"""Atomic writes, files that carry their own checksum yet load with a plain torch.load, and the
provenance record every output carries."""

import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

VERSION = "0.1.0"  # the package's version (pyproject.toml)


def _atomic(path, write):
    """Write through a temporary file in the target folder, then rename it into place, with the
    permissions a plain open() would give (mkstemp's are 0600: colleagues could not read results).
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
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import: setting it later could race with other threads


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


DIGEST_KEY = "sha256"  # the digest's entry in every file save_torch writes
LEGACY_MAGIC = b"SRCK1"  # the checksummed container of earlier versions (not loadable with plain torch.load)


def sha256_of(path):
    """The sha256 of a file's bytes, read in chunks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(obj):
    """sha256 over what a file holds: every tensor's dtype, shape and bytes, every key and plain
    value, in a fixed order (dict keys sorted). Independent of the pickle's bytes, so it can be
    stored inside the file it describes."""
    import hashlib

    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


_PLAIN = (str, bytes, int, float, complex, bool, type(None))


def _feed(digest, obj):
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{t.dtype}{tuple(obj.shape)}:".encode())
        digest.update(t.view(torch.uint8).numpy().data if t.numel() else b"")
    elif isinstance(obj, dict):
        digest.update(f"D{len(obj)}:".encode())
        for key in sorted(obj, key=repr):
            digest.update(f"{key!r}=".encode())
            _feed(digest, obj[key])
    elif isinstance(obj, (list, tuple)):
        digest.update(f"L{len(obj)}:".encode())
        for item in obj:
            _feed(digest, item)
    elif isinstance(obj, (set, frozenset)):  # in a fixed order, whatever the process's hash seed
        digest.update(f"S{len(obj)}:{sorted(map(repr, obj))!r}".encode())
    elif type(obj) in _PLAIN or isinstance(obj, (torch.dtype, torch.device)):  # numpy scalars are not plain
        digest.update(f"V{obj!r};".encode())
    else:  # what torch.load(weights_only=True) would refuse, or a repr that is not stable
        raise TypeError(f"a {type(obj).__module__}.{type(obj).__name__} cannot be stored in a plain torch "
                        "file; convert it to a tensor or a plain Python value")


def save_torch(path, obj: dict):
    """A plain torch.save file (torch.load(path, weights_only=True) reads it) of `obj` plus its
    content digest under DIGEST_KEY, written atomically (temporary file, then rename)."""
    import io

    import torch

    if not isinstance(obj, dict) or DIGEST_KEY in obj:
        raise TypeError(f"{path}: save_torch takes a dict without a {DIGEST_KEY!r} entry")
    buf = io.BytesIO()  # serialised in memory first: a full disk then fails as an OSError in write
    torch.save({**obj, DIGEST_KEY: content_digest(obj)}, buf)
    return write_bytes(path, buf.getvalue())


def load_torch(path, with_digest=False):
    """Read a file written by save_torch: only tensors and plain containers are unpickled
    (weights_only), and the content digest is verified before anything is returned;
    `with_digest`: (contents, that digest)."""
    import pickle

    import torch

    rebuild = "delete it and rebuild it (snakemake reruns the job that makes it)"
    with open(path, "rb") as handle:
        if handle.read(len(LEGACY_MAGIC)) == LEGACY_MAGIC:
            raise ValueError(f"{path}: an older checksummed container of this project, not a plain torch file; "
                             f"{rebuild}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise ValueError(f"{path}: holds a type that torch.load(weights_only=True) refuses, so it is not a "
                             f"file of this project; {rebuild}") from None
        raise ValueError(f"{path}: unreadable, so its checksum cannot be verified: the file is corrupt or "
                         f"truncated ({type(err).__name__}); {rebuild}") from None
    except Exception as err:  # truncated zip, flipped bytes in the archive's records, ...
        raise ValueError(f"{path}: unreadable, so its checksum cannot be verified: the file is corrupt or "
                         f"truncated ({type(err).__name__}); {rebuild}") from None
    if not isinstance(blob, dict) or DIGEST_KEY not in blob:
        raise ValueError(f"{path}: not a checksummed file of this project (no {DIGEST_KEY!r} entry); {rebuild}")
    expected = blob.pop(DIGEST_KEY)
    if content_digest(blob) != expected:
        raise ValueError(f"{path}: checksum mismatch: the file is corrupt or truncated; {rebuild}")
    return (blob, expected) if with_digest else blob


def code_version():
    """The git commit of the repository (with '+dirty' when it has changes), or 'unknown'."""
    root = Path(__file__).resolve().parents[3]
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
                "numpy": numpy.__version__, "package": VERSION}
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
