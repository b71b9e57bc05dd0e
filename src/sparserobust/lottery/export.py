"""Every ticket of a config in one framework-neutral archive: a numpy .npz of boolean masks with a
JSON manifest inside, readable with numpy alone (no torch, no pickle).

Layout of `tickets.npz`:
- `manifest`: a 0-d unicode array holding JSON: {"format", "tickets": [...], "provenance"};
  each ticket entry has key, init (pre-training), pruner, round, sparsity, density, layers
  (parameter names in order), file (the ticket it came from), sha256 (its content digest) and
  provenance (seed, code and library versions, host, and the job's config).
- `<key>/<parameter name>`: the ticket's boolean mask of that parameter (True = kept), where
  key = `<init>/<pruner>/round<k>`, e.g. `adversarial/imp_st/round5/layer1.0.conv1.weight`.
"""

import json
import math
import zipfile

import numpy as np

from ..foundations import provenance
from . import masks

FORMAT = "sparserobust-tickets-npz-1"


def ticket_entry(path):
    """(manifest entry, {array name: bool array}) of one ticket file (its checksum verified)."""
    blob, digest = masks.read_ticket(path, with_digest=True)
    spec = (blob.get("provenance") or {}).get("config") or {}
    missing = [k for k in ("init", "pruner", "round") if k not in spec]
    if missing:
        raise ValueError(f"{path}: its provenance does not name the ticket's {', '.join(missing)}; rebuild it")
    key = f"{spec['init']}/{spec['pruner']}/round{int(spec['round'])}"
    arrays = {f"{key}/{name}": m.bool().numpy() for name, m in blob["mask"].items()}
    entry = {"key": key, "init": spec["init"], "pruner": spec["pruner"], "round": int(spec["round"]),
             "sparsity": float(blob["sparsity"]), "density": float(blob["density"]),
             "layers": list(blob["mask"]), "file": str(path), "sha256": digest,
             "provenance": blob["provenance"]}
    return entry, arrays


def export(paths, out, config=None):
    """Write the archive of the tickets at `paths` to `out` (atomically), one ticket in memory at a
    time; returns the manifest (tickets ordered by pre-training, pruner and round)."""
    entries, manifest = [], {"format": FORMAT}

    def write(handle):
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for path in map(str, paths):
                entry, arrays = ticket_entry(path)
                if any(e["key"] == entry["key"] for e in entries):
                    raise ValueError(f"{path}: a second ticket for {entry['key']}")
                entries.append(entry)
                for name, array in arrays.items():
                    _add(archive, name, array)
            entries.sort(key=lambda e: (e["init"], e["pruner"], e["round"]))
            manifest.update(tickets=entries, provenance=provenance.record(config))
            _add(archive, "manifest", np.array(json.dumps(_finite(manifest), sort_keys=True, default=str)))

    provenance._atomic(out, write)
    return manifest


def _add(archive, name, array):
    """One array as `<name>.npy` inside the zip, as numpy.savez writes it."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _finite(obj):
    """NaN and infinities as null: strict JSON readers (outside Python) refuse them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def read(path):
    """(manifest, {key: {parameter name: bool array}}) of an archive; numpy and json only."""
    with np.load(path, allow_pickle=False) as archive:
        manifest = json.loads(str(archive["manifest"]))
        tickets = {t["key"]: {name: archive[f"{t['key']}/{name}"] for name in t["layers"]}
                   for t in manifest["tickets"]}
    return manifest, tickets
