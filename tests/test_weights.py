import functools
import http.server
import threading

import pytest
import torch

from sparserobust.models import pretrained as weights
from sparserobust.models import registry as models


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path (bounded: shut down after the test)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def reference():
    torch.manual_seed(0)
    return models.SmallResNet(10, (4, 8, 8))


@pytest.mark.parametrize("fmt", ["torchvision", "robustness", "fast_adversarial"])
def test_download_checksum_and_conversion_of_each_published_layout(tmp_path, server, fmt):
    net = reference()
    state = net.state_dict()
    blob = weights.as_published(state, fmt)
    if fmt == "robustness":
        assert any(k.startswith("module.normalizer.") for k in blob["model"])
        assert any(k.startswith("module.attacker.") for k in blob["model"])
    if fmt == "fast_adversarial":
        assert all(k.startswith("module.") for k in blob["state_dict"])
    src = tmp_path / f"published_{fmt}.pth"
    torch.save(blob, src)
    sha = weights.sha256_of(src)
    entry = {"format": fmt, "url": f"{server}/{src.name}", "sha256": sha}
    path, got = weights.fetch(entry, f"pretrain.{fmt}", tmp_path / "downloads")
    assert got == sha and path.read_bytes() == src.read_bytes()
    converted = weights.convert(path, fmt, models.SmallResNet(10, (4, 8, 8)), f"pretrain.{fmt}")
    assert set(converted) == set(state)
    assert all(torch.equal(converted[k], state[k]) for k in state)


def test_checksum_mismatch_is_refused_and_leaves_nothing(tmp_path, server):
    src = tmp_path / "w.pth"
    torch.save(reference().state_dict(), src)
    entry = {"format": "torchvision", "url": f"{server}/w.pth", "sha256": "0" * 64}
    with pytest.raises(ValueError, match="sha256"):
        weights.fetch(entry, "pretrain.standard", tmp_path / "dl")
    assert not any((tmp_path / "dl").iterdir())


def test_prefix_checksum_as_torchvision_names_files(tmp_path, server):
    src = tmp_path / "w.pth"
    torch.save(reference().state_dict(), src)
    prefix = weights.sha256_of(src)[:8]
    entry = {"format": "torchvision", "url": f"{server}/w.pth", "sha256": prefix}
    path, sha = weights.fetch(entry, "pretrain.standard", tmp_path / "dl")
    assert sha.startswith(prefix)


def test_file_url_and_local_path(tmp_path):
    src = tmp_path / "w.pth"
    torch.save(reference().state_dict(), src)
    path, _ = weights.fetch({"format": "torchvision", "url": src.resolve().as_uri()}, "k", tmp_path / "dl")
    assert path.read_bytes() == src.read_bytes()
    path, _ = weights.fetch({"format": "torchvision", "path": str(src)}, "k", tmp_path / "dl")
    assert path == src


def test_fast_adversarial_without_source_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        weights.fetch({"format": "fast_adversarial", "url": None, "path": None},
                      "pretrain.fast_adversarial", tmp_path)
    assert "locuslab/fast_adversarial" in str(err.value)
    assert "pretrain.fast_adversarial.path" in str(err.value)


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_never_unpickles_code(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"state_dict": reference().state_dict(), "extra": Payload()}, bad)
    with pytest.raises(ValueError, match="never unpickled"):
        weights.convert(bad, "fast_adversarial", reference(), "pretrain.x")


def test_truncated_file_and_wrong_layout_are_refused(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(reference().state_dict(), good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="cannot be read"):
        weights.convert(cut, "torchvision", reference(), "pretrain.standard")
    with pytest.raises(ValueError, match="layout|module.model"):
        weights.convert(good, "robustness", reference(), "pretrain.adversarial")
    with pytest.raises(ValueError, match="does not match the model"):
        weights.convert(good, "torchvision", models.SmallResNet(10, (4, 8, 16)), "pretrain.standard")


def test_resnet50_roundtrip_all_layouts(tmp_path):
    net = models.build("resnet50", 1000)
    state = net.state_dict()
    for fmt in weights.CONVERTERS:
        path = tmp_path / f"{fmt}.pth"
        torch.save(weights.as_published(state, fmt, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), path)
        out = weights.convert(path, fmt, models.build("resnet50", 1000), fmt)
        assert all(torch.equal(out[k], state[k]) for k in state)



def test_a_checksum_list_pins_each_file_and_a_changed_file_is_refused(tmp_path):
    blob = tmp_path / "resnet50_linf_eps4.0.ckpt"
    blob.write_bytes(b"published bytes")
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'0' * 64}  other.pth\n{weights.sha256_of(blob)}  {blob.name}\n")
    entry = {"format": "robustness", "url": blob.as_uri(), "sha256_file": str(sums)}
    path, sha = weights.fetch(entry, "pretrain.adversarial", tmp_path / "dl")
    assert sha == weights.sha256_of(blob)
    sums.write_text(f"{'1' * 64}  {blob.name}\n{'2' * 64}  x\n")
    with pytest.raises(ValueError, match="pretrain.adversarial: .* the config pins 1111"):
        weights.fetch(entry, "pretrain.adversarial", tmp_path / "dl2")
    assert not any((tmp_path / "dl2").glob("*"))
    sums.write_text(f"{'1' * 64}  a\n{'2' * 64}  b\n")
    with pytest.raises(ValueError, match="lists no digest for resnet50_linf_eps4.0.ckpt"):
        weights.fetch(entry, "pretrain.adversarial", tmp_path / "dl3")


def test_relative_file_url_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert weights.resolve_url("file:w/x.pth") == (tmp_path / "w" / "x.pth").as_uri()
    assert weights.resolve_url("file:///abs/x.pth") == "file:///abs/x.pth"
    assert weights.resolve_url("https://h/x.pth") == "https://h/x.pth"
