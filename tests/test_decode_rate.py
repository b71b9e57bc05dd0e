"""scripts/decode_rate.py and performance/decoding.py: the CPU decode path's images/s per core and the
worker cores per GPU (BENCHMARKS.md, 'ImageNet decoding on the CPU')."""

import subprocess
import sys

from PIL import Image

from sparserobust.performance import decoding

from conftest import ROOT


def test_fabricated_jpegs_have_imagenets_sizes_and_grain_sets_their_bytes(tmp_path):
    smooth = decoding.fabricate(tmp_path / "a", 6, grain=4)
    grainy = decoding.fabricate(tmp_path / "b", 6, grain=48)
    assert [Image.open(p).size for p in smooth] == list(decoding.SIZES)
    assert all(Image.open(p).format == "JPEG" for p in smooth)
    assert sum(p.stat().st_size for p in grainy) > 1.5 * sum(p.stat().st_size for p in smooth)
    r = decoding.per_core(tmp_path / "b", repeats=1)
    assert r["files"] == 6 and r["decode_crop"] > 0 and r["read_bytes"] > r["decode_crop"]
    assert abs(r["mean_kb"] - sum(p.stat().st_size for p in grainy) / 6e3) < 1e-6
    assert decoding.cores_per_gpu(2470, 420) == 6 and decoding.cores_per_gpu(2400, 400) == 6


def test_the_script_prints_rates_and_cores_per_gpu():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "decode_rate.py"), "--images", "6", "--repeats", "1",
                          "--grain", "24", "--gpu-rate", "2470", "7000"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    header, units, row = out.stdout.splitlines()
    assert "worker cores per GPU" in header and "img/s/core" in units
    fields = row.split()
    assert fields[:3] == ["grain", "24", "6"] and "2,470:" in row and "7,000:" in row
    assert int(fields[fields.index("2,470:") + 1]) <= int(fields[fields.index("7,000:") + 1])
