import functools
import http.server
import threading
import zipfile

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


# Checkpoints written as the published training code writes them, with the same calls, not through
# pretrained.as_published: a real DataParallel, a real SGD optimiser after a step, the real schedule,
# and torch.save with the authors' arguments, storages tagged as saved from cuda:0.


class InputNormalize(torch.nn.Module):
    """robustness/tools/helpers.py InputNormalize."""

    def __init__(self, new_mean, new_std):
        super().__init__()
        self.register_buffer("new_mean", new_mean[..., None, None])
        self.register_buffer("new_std", new_std[..., None, None])


class Attacker(torch.nn.Module):
    """robustness/attacker.py Attacker: the normaliser and the same model object."""

    def __init__(self, model, mean, std):
        super().__init__()
        self.normalize = InputNormalize(mean, std)
        self.model = model


class AttackerModel(torch.nn.Module):
    """robustness/attacker.py AttackerModel(model, dataset)."""

    def __init__(self, model, mean, std):
        super().__init__()
        self.normalizer = InputNormalize(mean, std)
        self.model = model
        self.attacker = Attacker(model, mean, std)


def random_resnet():
    """torchvision's ResNet with ResNet-50's Bottleneck blocks, one per stage and narrow (3 M parameters, so
    the files stay small), every tensor random (BatchNorm statistics too)."""
    from torchvision.models.resnet import Bottleneck, ResNet

    net = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=4)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            else:
                t.copy_(torch.rand_like(t) + 0.5 if name.endswith("running_var") else torch.randn_like(t) * 0.05)
    return net


def one_sgd_step(net, optimizer):
    """A step on random gradients, so the optimiser state holds momentum buffers as after an epoch."""
    for p in net.parameters():
        p.grad = torch.randn_like(p) * 0.01
    optimizer.step()


def robustness_checkpoint(net, path, legacy):
    """robustness/train.py train_model: DataParallel(AttackerModel), SGD + StepLR, then save_checkpoint's
    ch.save(sd_info, path, pickle_module=dill) (published .ckpt files: the legacy serialization)."""
    import dill

    model = torch.nn.DataParallel(AttackerModel(net, torch.tensor([0.485, 0.456, 0.406]),
                                                torch.tensor([0.229, 0.224, 0.225])))
    opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    one_sgd_step(net, opt)
    schedule.step()
    sd_info = {"model": model.state_dict(), "optimizer": opt.state_dict(),
               "schedule": (schedule and schedule.state_dict()), "epoch": 1, "amp": None}
    sd_info["adv_prec1"] = torch.tensor([50.0]).mean()  # top1.avg of AverageMeter over accuracy() tensors
    torch.save(sd_info, path, pickle_module=dill, **({"_use_new_zipfile_serialization": False} if legacy else {}))
    return model


def fast_adversarial_checkpoint(net, path, legacy):
    """locuslab/fast_adversarial ImageNet/main_fast.py: SGD with BatchNorm parameters free of weight decay,
    DataParallel, then lib/utils.py save_checkpoint's torch.save(state, filename)."""
    param_to_module = {p: type(m).__name__ for m in net.modules() for p in m.parameters(recurse=False)}
    groups = [dict(params=[p for p in net.parameters() if "BatchNorm" not in param_to_module[p]]),
              dict(params=[p for p in net.parameters() if "BatchNorm" in param_to_module[p]], weight_decay=0)]
    opt = torch.optim.SGD(groups, 0.1, momentum=0.9, weight_decay=1e-4)
    model = torch.nn.DataParallel(net)
    one_sgd_step(net, opt)
    state = {"epoch": 1, "arch": "resnet50", "state_dict": model.state_dict(),
             "best_prec1": max(torch.tensor([50.0])[0], 0), "optimizer": opt.state_dict()}
    torch.save(state, path, **({"_use_new_zipfile_serialization": False} if legacy else {}))
    return model


@pytest.mark.parametrize("fmt", ["robustness", "fast_adversarial"])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_conversion_of_checkpoints_written_as_the_authors_code_writes_them(tmp_path, monkeypatch, fmt, legacy):
    from torchvision.models.resnet import Bottleneck, ResNet

    torch.manual_seed(3)
    net = random_resnet()
    path = tmp_path / f"{fmt}.ckpt"
    writer = robustness_checkpoint if fmt == "robustness" else fast_adversarial_checkpoint
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")  # trained on a GPU
        writer(net, path, legacy)
    seen = []
    raw = torch.load(path, map_location=lambda storage, loc: seen.append(loc) or storage, weights_only=True)
    assert set(seen) == {"cuda:0"} and zipfile.is_zipfile(path) != legacy
    if fmt == "robustness":
        assert {"module.normalizer.new_mean", "module.normalizer.new_std", "module.model.conv1.weight",
                "module.attacker.model.conv1.weight", "module.attacker.normalize.new_std"} <= set(raw["model"])
        assert raw["schedule"]["step_size"] == 30 and raw["optimizer"]["state"]
    else:
        assert all(k.startswith("module.") for k in raw["state_dict"]) and raw["arch"] == "resnet50"
        assert [g["weight_decay"] for g in raw["optimizer"]["param_groups"]] == [1e-4, 0]
    original = {k: v.detach().cpu() for k, v in net.state_dict().items()}  # DataParallel moves it to a GPU if any
    target = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=4)
    converted = weights.convert(path, fmt, target, f"pretrain.{fmt}")
    assert list(converted) == list(original)
    for k in original:
        assert converted[k].dtype == original[k].dtype and torch.equal(converted[k], original[k]), k
