"""Pre-trained weights: download (http, https or file URL) with a sha256 check, and conversion of
each published format into one canonical torchvision ResNet-50 state dict.

Files are only ever read with torch.load(weights_only=True): no code is unpickled, and a
pinned sha256 is verified before the file is opened at all. The canonical files this stage
writes carry their own content checksum (provenance.save_torch) and load with a plain torch.load.
"""

import os
import re
import shutil
import urllib.request
from pathlib import Path

import torch

from ..foundations import provenance

SHA_RE = re.compile(r"^[0-9a-f]{8,64}$")


sha256_of = provenance.sha256_of


def expected_sha(entry, key):
    """The pinned digest (full, or a prefix of at least 8 hex digits as torchvision names files)."""
    sha = entry.get("sha256")
    if entry.get("sha256_file"):
        sha = _listed_sha(Path(entry["sha256_file"]), Path(str(entry.get("path") or entry.get("url"))).name, key)
    if sha is not None and not SHA_RE.match(sha):
        raise ValueError(f"{key}.sha256: {sha!r} is not a sha256 (8 to 64 lower-case hex digits)")
    return sha


def _listed_sha(sums, name, key):
    """The digest of `name` in a sha256sum-format file ("DIGEST  NAME" per line), or the digest of
    a file that holds a bare digest and no name."""
    if not sums.is_file():
        raise FileNotFoundError(f"{key}.sha256_file: {sums} does not exist")
    lines = [line.split() for line in sums.read_text().splitlines() if line.strip()]
    match = [parts[0] for parts in lines if len(parts) > 1 and parts[1].lstrip("*") == name]
    if match or (len(lines) == 1 and len(lines[0]) == 1):
        return (match or [lines[0][0]])[0].lower()
    raise ValueError(f"{key}.sha256_file: {sums} lists no digest for {name}")


def verify(path, sha, key):
    actual = sha256_of(path)
    if sha is not None and not actual.startswith(sha):
        raise ValueError(f"{key}: {path} has sha256 {actual}, the config pins {sha}; the file is "
                         "corrupt or not the published one: delete it and fetch it again")
    return actual


def resolve_url(url):
    """`file:RELATIVE/PATH` (no slash after the colon) names a file under the working directory
    (the repository, for Snakemake); every other URL is used as it is."""
    if url.startswith("file:") and not url.startswith("file:/"):
        return Path(url[len("file:"):]).resolve().as_uri()
    return url


def download(url, dest, sha, key, timeout=60):
    """Stream `url` to a temporary file beside `dest`, verify, then rename into place."""
    url = resolve_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
        actual = verify(tmp, sha, key)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return actual


def _strip(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _torchvision(blob):
    return blob.get("state_dict", blob) if isinstance(blob, dict) else blob


def _robustness(blob):
    """Madry-lab robustness library: {'model': {'module.model.*', 'module.normalizer.*', 'module.attacker.*'}}."""
    state = _strip(blob["model"], "module.model.")
    if not state:
        raise ValueError("no 'module.model.' keys in the checkpoint's 'model' entry")
    return state


def _fast_adversarial(blob):
    """locuslab/fast_adversarial: {'state_dict': {'module.*'}, 'epoch', 'arch', ...}."""
    state = blob["state_dict"]
    return _strip(state, "module.") if any(k.startswith("module.") for k in state) else dict(state)


CONVERTERS = {"torchvision": _torchvision, "robustness": _robustness, "fast_adversarial": _fast_adversarial}


def read_checkpoint(path, what="checkpoint"):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is reported the same way
        raise ValueError(f"{path}: cannot be read as a weights-only {what} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}); the file is truncated, "
                         "corrupt, or holds code objects, which are never unpickled") from err


def convert(path, fmt, net, key):
    """Canonical state dict of `net`'s architecture from a file in a published format."""
    if fmt not in CONVERTERS:
        raise ValueError(f"{key}.format: {fmt!r} is unknown; known: {sorted(CONVERTERS)}")
    blob = read_checkpoint(path)
    try:
        state = {k: v for k, v in CONVERTERS[fmt](blob).items() if isinstance(v, torch.Tensor)}
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{key}: {path} is not in the {fmt!r} layout (missing {err})") from err
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ValueError(f"{key}: {path} ({fmt}) does not match the model: {str(err)[:500]}") from err
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{key}: {path} ({fmt}) does not match the model: missing "
                         f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}")
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


NO_SOURCE = {
    "fast_adversarial": ("The fast-adversarial ImageNet ResNet-50 (Wong et al. 2020, FGSM-RS) is "
                         "distributed only through the Google Drive folder linked from the README "
                         "of github.com/locuslab/fast_adversarial (ImageNet section). Download it "
                         "and set {key}.path to the file (and {key}.sha256 to its digest)."),
}


def fetch(entry, key, download_dir):
    """Local path or downloaded file of a weights entry, verified; returns (path, sha256)."""
    sha = expected_sha(entry, key)
    if entry.get("path"):
        path = Path(entry["path"])
        if not path.is_file():
            raise FileNotFoundError(f"{key}.path: {path} does not exist")
        return path, verify(path, sha, key)
    if not entry.get("url"):
        hint = NO_SOURCE.get(entry.get("format"), "Set {key}.url or {key}.path.")
        raise FileNotFoundError(f"{key}: no url and no path. " + hint.format(key=key))
    dest = Path(download_dir) / Path(entry["url"].split("?")[0]).name
    if dest.is_file():
        try:
            return dest, verify(dest, sha, key)
        except ValueError:
            dest.unlink()
    return dest, download(entry["url"], dest, sha, key)


def save_canonical(state, out, entry, sha, key):
    prov = provenance.record(config={key: entry}, sha256=sha, format=entry.get("format"))
    provenance.save_torch(out, {"state_dict": state, "provenance": prov})


def load_canonical(path):
    blob = provenance.load_torch(path)
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ValueError(f"{path}: not a canonical weights file (no 'state_dict')")
    return blob["state_dict"]


def _as_robustness(state, mean, std):
    model = {f"module.model.{k}": v for k, v in state.items()}
    model.update({f"module.attacker.model.{k}": v for k, v in state.items()})
    for prefix in ("module.normalizer.", "module.attacker.normalize."):
        model[prefix + "new_mean"] = torch.tensor(mean).view(3, 1, 1)
        model[prefix + "new_std"] = torch.tensor(std).view(3, 1, 1)
    return {"model": model, "optimizer": {}, "schedule": None, "epoch": 0, "amp": None}


def _as_fast_adversarial(state, mean, std):
    return {"epoch": 0, "arch": "resnet", "best_prec1": 0.0, "optimizer": {},
            "state_dict": {f"module.{k}": v for k, v in state.items()}}


WRITERS = {"torchvision": lambda state, mean, std: dict(state), "robustness": _as_robustness,
           "fast_adversarial": _as_fast_adversarial}


def as_published(state, fmt, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
    """A state dict laid out as the published checkpoints of `fmt` are (the inverse of convert)."""
    return WRITERS[fmt]({k: v.detach().cpu() for k, v in state.items()}, mean, std)


def load_trained(spec, path, device):
    """A model trained downstream (canonical file at `path`) on `device`, in eval mode."""
    from . import registry

    ds = spec["dataset"]
    model = registry.network(spec, ds["num_classes"], ds)
    model.load_state_dict(load_canonical(path))
    return registry.prepare(model, device).eval()
