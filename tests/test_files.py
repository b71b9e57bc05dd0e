"""Result files are plain torch files that check themselves, and the export archive is plain numpy.
(The end-to-end test repeats the plain-load and corruption checks on every kind the workflow writes.)"""

import json
import os
import subprocess
import sys

import pytest
import torch

from sparserobust.foundations import provenance
from sparserobust.lottery import export, masks
from sparserobust.models import registry as models

from conftest import ROOT, flip_tensor_byte


def ticket(tmp_path, init, pruner, k, seed=0):
    net = models.SmallResNet(10, (4, 8, 8))
    gen = torch.Generator().manual_seed(seed)
    mask = {n: torch.rand(m.shape, generator=gen) < 0.5 for n, m in masks.ones_like(net).items()}
    path = tmp_path / "tickets" / init / pruner / f"round{k}.pt"
    spec = {"init": init, "pruner": pruner, "round": k, "seed": seed}
    provenance.save_torch(path, masks.to_file(mask, provenance.record(spec, seed)))
    return path, mask


def test_plain_torch_load_reads_what_save_torch_wrote(tmp_path):
    path, mask = ticket(tmp_path, "standard", "imp_st", 2)
    (tmp_path / "plain.txt").write_text("x")  # the permissions open() gives (the umask), not mkstemp's 0600
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777
    blob = torch.load(path, weights_only=True)
    assert set(blob) == {"mask", "sparsity", "density", "layer_density", "provenance", "sha256"}
    assert all(torch.equal(blob["mask"][n], m) for n, m in mask.items())
    assert blob["sha256"] == provenance.content_digest({k: v for k, v in blob.items() if k != "sha256"})
    assert masks.load(path).keys() == mask.keys()


def test_the_digest_covers_every_tensor_byte_and_value_but_not_the_key_order():
    a = {"w": torch.arange(6.0).reshape(2, 3), "n": 3, "h": [{"loss": 0.5}]}
    same = {"h": [{"loss": 0.5}], "n": 3, "w": torch.arange(6.0).reshape(2, 3)}
    assert provenance.content_digest(a) == provenance.content_digest(same)
    # a set is hashed in a fixed order: the same digest in a process with another hash seed
    code = ("import sys; sys.path.insert(0, 'src'); from sparserobust.foundations import provenance as p; "
            "print(p.content_digest({'s': {'alpha', 'beta', 'gamma', 'delta'}}))")
    seeds = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                            env={**os.environ, "PYTHONHASHSEED": s}).stdout for s in ("1", "2", "3")}
    assert len(seeds) == 1
    changed = [{**a, "w": a["w"].clone().index_put_((torch.tensor(1), torch.tensor(2)), torch.tensor(5.5))},
               {**a, "w": a["w"].reshape(3, 2)}, {**a, "w": a["w"].double()}, {**a, "n": 4},
               {**a, "h": [{"loss": 0.25}]}]
    assert len({provenance.content_digest(c) for c in changed} | {provenance.content_digest(a)}) == 6


def test_corrupt_truncated_foreign_and_legacy_files_are_refused(tmp_path):
    path, _ = ticket(tmp_path, "standard", "omp", 1)
    good = path.read_bytes()
    flipped = flip_tensor_byte(path, tmp_path / "flipped.pt").read_bytes()
    assert flipped != good and len(flipped) == len(good)
    for name, data, words in (("flipped", flipped, ("checksum mismatch", "corrupt", "rebuild")),
                              ("cut", good[: len(good) // 3], ("corrupt or truncated", "checksum")),
                              ("legacy", provenance.LEGACY_MAGIC + b"0" * 64 + b"\n" + good, ("older", "rebuild"))):
        bad = tmp_path / f"{name}.pt"
        bad.write_bytes(data)
        with pytest.raises(ValueError) as err:
            masks.load(bad)
        assert all(w in str(err.value) for w in words) and str(bad) in str(err.value), (name, err.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"mask": {}}, foreign)
    with pytest.raises(ValueError, match="not a checksummed file"):
        masks.load(foreign)
    with pytest.raises(TypeError, match="sha256"):
        provenance.save_torch(tmp_path / "x.pt", {"sha256": "mine"})
    import numpy as np

    with pytest.raises(TypeError, match=r"numpy\.float64 cannot be stored"):
        provenance.save_torch(tmp_path / "np.pt", {"loss": np.float64(0.5)})
    assert not (tmp_path / "np.pt").exists()


def test_export_archive_reads_with_numpy_alone_and_matches_the_tickets(tmp_path):
    made = dict(ticket(tmp_path, init, pruner, k, seed=i) for i, (init, pruner, k) in
                enumerate([("standard", "dense", 0), ("standard", "imp_st", 1), ("adversarial", "imp_at", 2)]))
    out = tmp_path / "export" / "tickets.npz"
    manifest = export.export(made, out, {"name": "t"})
    assert [t["key"] for t in manifest["tickets"]] == ["adversarial/imp_at/round2", "standard/dense/round0",
                                                       "standard/imp_st/round1"]
    reader = ("import json, sys, numpy as np\n"
              "a = np.load(sys.argv[1], allow_pickle=False)\n"
              "m = json.loads(str(a['manifest']))\n"
              "assert 'torch' not in sys.modules\n"
              "print(json.dumps({t['key']: [t['init'], t['pruner'], t['round'], t['sparsity'],"
              " {n: a[t['key'] + '/' + n].astype(int).ravel().tolist() for n in t['layers']}] for t in m['tickets']}))\n")
    got = json.loads(subprocess.run([sys.executable, "-c", reader, str(out)], capture_output=True, text=True,
                                    check=True).stdout)
    for path, mask in made.items():
        init, pruner, name = path.parts[-3:]
        entry = got[f"{init}/{pruner}/{name[:-3]}"]
        assert entry[:3] == [init, pruner, int(name[5:-3])] and entry[3] == pytest.approx(masks.sparsity(mask))
        assert entry[4] == {n: m.int().ravel().tolist() for n, m in mask.items()}
    _, arrays = export.read(out)
    assert arrays["standard/dense/round0"].keys() == made[next(iter(made))].keys()
    with pytest.raises(ValueError, match="second ticket"):
        export.export([*made, next(iter(made))], tmp_path / "dup.npz")
