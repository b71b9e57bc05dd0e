"""Details of the Double-Win transfer runs and Fig. 6 read from the authors' code: an adversarial
transfer keeps the best-SA checkpoint beside the best-RA one (main_adv_eval.py), through a resume;
the trajectory plane is the PCA of the centred checkpoint differences (Li et al.'s projection.py)."""

import json
import os
import signal

import pandas as pd
import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams, provenance
from sparserobust.models import registry as models
from sparserobust.pipeline import config, jobs, stages
from sparserobust.training import checkpoint, engine, evaluate, selection

from conftest import ROOT, dense_ticket_files

CPU = torch.device("cpu")
# validation (SA, RA) per epoch: best RA at epoch 3, best SA at epoch 2; epoch 4 ties both and loses
SCRIPT = [(50.0, 10.0), (70.0, 5.0), (60.0, 20.0), (70.0, 20.0)]


# --- Fig. 6: the trajectory's PCA plane ------------------------------------------------------------

def _line_off_the_origin():
    """Checkpoint - final = (3, y) for y in -2, -1, 1, 2, and (0, 0) for the final model: the
    centred rows vary most along y (variance 10 against 7.2 along x), the uncentred ones along x
    (sum of squares 36 against 10)."""
    final = {"a": torch.tensor([0.5, -1.0]), "b": torch.tensor([2.0])}
    states = [{"a": final["a"] + torch.tensor([3.0, y]), "b": final["b"].clone()} for y in (-2.0, -1.0, 1.0, 2.0)]
    return states + [final]


def test_pca_plane_is_that_of_the_centred_differences():
    from sparserobust.analysis import landscape

    dirs, coords, ratio = landscape.pca_directions(_line_off_the_origin(), ["a", "b"])
    ex, ey = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(dirs[0].abs(), ey, atol=1e-6) and torch.allclose(dirs[1].abs(), ex, atol=1e-6)
    assert ratio == pytest.approx([10 / 17.2, 7.2 / 17.2], abs=1e-6)
    # the uncentred differences projected: the final model at the origin, the others at (y, 3)
    signs = torch.stack([dirs[0] @ ey, dirs[1] @ ex])
    expected = torch.tensor([[-2.0, 3.0], [-1.0, 3.0], [1.0, 3.0], [2.0, 3.0], [0.0, 0.0]]) * signs
    assert torch.allclose(coords, expected, atol=1e-5)


def test_pca_matches_the_covariance_eigenvectors_of_a_random_trajectory():
    from sparserobust.analysis import landscape

    gen = torch.Generator().manual_seed(0)
    walk = torch.cumsum(torch.randn(7, 12, generator=gen, dtype=torch.float64), 0) + 4.0
    dirs, coords, ratio = landscape.pca_directions([{"w": w.float()} for w in walk], ["w"])
    diffs = walk - walk[-1]
    centred = diffs - diffs.mean(0)
    values, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending
    for k in range(2):
        assert abs(float(dirs[k].double() @ vectors[:, -1 - k])) == pytest.approx(1.0, abs=1e-4)
        assert ratio[k] == pytest.approx(float(values[-1 - k] / values.sum()), abs=1e-4)
    assert torch.allclose(coords.double(), diffs @ dirs.double().T, atol=1e-4)
    assert coords[-1].abs().max() < 1e-5


# --- the best-SA checkpoint of adversarial transfer -----------------------------------------------

class Scripted:
    """evaluate.report stand-in: validation (len == n_val) answers SCRIPT in order and remembers the
    weights it saw; any other data answers the weights' fingerprint (the sum of all parameters)."""

    def __init__(self, n_val, done=0):
        self.n_val, self.script, self.seen = n_val, list(SCRIPT[done:]), []

    def __call__(self, model, d, device, hp, *args, **kwargs):
        fingerprint = float(sum(p.detach().double().sum() for p in model.parameters()))
        if len(d) != self.n_val:
            return {"sa": fingerprint, "sa_loss": 0.0, "ra": fingerprint + 1, "ra_loss": 0.0}
        self.seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        sa, ra = self.script.pop(0)
        return {"sa": sa, "sa_loss": 0.0, "ra": ra, "ra_loss": 0.0, "fingerprint": fingerprint}


def _tiny():
    x, y = generate(7, 10, 96, 0, size=8)
    splits = {"train": data.ArrayData(x[:64], y[:64], 10), "val": data.ArrayData(x[64:], y[64:], 10)}
    torch.manual_seed(0)
    model = models.prepare(models.Normalized(models.SmallResNet(10, (4, 8, 8)), [0.5] * 3, [0.25] * 3), CPU)
    hp = hparams.train({"epochs": len(SCRIPT), "lr": 0.05, "batch_size": 16, "schedule": "constant",
                        "select": "ra", "eval_attack": {"eps": 8, "step": 2, "steps": 1}})
    return model, splits, hp


def _run(monkeypatch, path=None, preempt_after=None, done=0):
    """A run of len(SCRIPT) epochs; `done`: the epochs a resumed run finds already validated."""
    model, splits, hp = _tiny()
    fake = Scripted(len(splits["val"]), done)

    def report(*args, **kwargs):
        out = fake(*args, **kwargs)
        if len(fake.seen) == preempt_after:
            os.kill(os.getpid(), signal.SIGTERM)  # the engine saves at its next step and exits with 143
        return out

    monkeypatch.setattr(evaluate, "report", report)
    kept = selection.BestOf("val_sa")
    history, best, state = engine.train(model, splits, hp, CPU, 0, log=lambda m: None, checkpoint=path,
                                        hooks=kept.hooks())
    return fake, kept, history, best, state


def test_best_sa_and_best_ra_epochs_are_kept_apart(monkeypatch):
    fake, kept, history, best, state = _run(monkeypatch)
    assert [h["val_sa"] for h in history] == [s for s, _ in SCRIPT]
    assert best["epoch"] == 3 and kept.best == {"epoch": 2, "score": 70.0}
    assert all(torch.equal(v, fake.seen[2][k]) for k, v in state.items())  # the engine's: best RA
    assert all(torch.equal(v, fake.seen[1][k]) for k, v in kept.state.items())  # the kept one: best SA
    assert not all(torch.equal(v, kept.state[k]) for k, v in state.items())


def test_the_best_sa_checkpoint_survives_a_preemption(monkeypatch, tmp_path):
    _, reference, ref_history, ref_best, _ = _run(monkeypatch)
    path = tmp_path / "run.resume"
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as stop:
            _run(monkeypatch, path, preempt_after=3)  # SIGTERM during epoch 3's validation
        assert stop.value.code == 143
        saved = provenance.load_torch(path)
        assert saved["epoch"] == 3 and saved["batch"] > 0 and saved["extra"]["best"]["epoch"] == 2
        fake, kept, history, best, _ = _run(monkeypatch, path, done=3)  # resumes inside epoch 4
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert len(fake.seen) == 1  # only epoch 4 was validated after the resume
    assert kept.best == reference.best == {"epoch": 2, "score": 70.0} and best == ref_best
    assert all(torch.equal(v, reference.state[k]) for k, v in kept.state.items())
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in ref_history]


def test_a_state_without_the_kept_checkpoint_is_refused():
    with pytest.raises(ValueError, match="best-val_sa"):
        selection.BestOf("val_sa").set(None)


@pytest.fixture(scope="module")
def ticket(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transfer")
    cfg = config.load(ROOT / "config" / "demo.yaml")
    dense_ticket_files(tmp, cfg)
    return tmp, cfg


def _transfer(ticket, regime, monkeypatch):
    tmp, cfg = ticket
    spec = jobs.transfer(cfg, "standard", "dense", 0, "demo_cifar10", "full", regime, 0)
    spec.pop("transfer_attack", None)
    spec["device"] = "cpu"
    spec["train"] = {**spec["train"], "epochs": len(SCRIPT) if regime == "adversarial" else 1}
    spec["train"].pop("train_attack", None)
    spec["dataset"] = {**spec["dataset"], "train_size": 64, "val_size": 24, "test_size": 40}
    fake = Scripted(24)
    monkeypatch.setattr(evaluate, "report", fake)
    out = tmp / f"{regime}.json"
    stages.transfer(spec, tmp / "w.pt", tmp / "t.pt", out, lambda m: None)
    assert not os.path.exists(checkpoint.resume_path(out))
    return json.loads(out.read_text())


def test_adversarial_transfer_records_both_checkpoints(ticket, monkeypatch):
    rec = _transfer(ticket, "adversarial", monkeypatch)
    assert rec["best_epoch"] == 3 and rec["best_sa_epoch"] == 2
    fingerprints = [h["val_fingerprint"] for h in rec["history"]]
    # test metrics of the best-RA state, and of the best-SA state, each from its own weights
    assert rec["test_sa"] == pytest.approx(fingerprints[2], abs=1e-6)
    assert rec["test_sa_best_sa"] == pytest.approx(fingerprints[1], abs=1e-6)
    assert rec["test_ra_best_sa"] == pytest.approx(fingerprints[1] + 1, abs=1e-6)
    assert rec["test_sa"] != rec["test_sa_best_sa"]


def test_standard_transfer_has_no_second_checkpoint(ticket, monkeypatch):
    rec = _transfer(ticket, "standard", monkeypatch)
    assert "test_sa" in rec and not any(k.endswith("best_sa") or k == "best_sa_epoch" for k in rec)


def test_fig4_names_the_checkpoint_of_its_at_sa_panels(tmp_path, monkeypatch):
    from sparserobust.analysis import metrics, plot_style, plots_doublewin

    rows = [{"init": "adversarial", "pruner": pruner, "round": k, "sparsity": 0.2 * k, "dataset": "d", "data": "full",
             "regime": regime, "seed": seed, "test_sa": 80.0 - k + seed, "test_ra": 40.0 - k + seed,
             "test_sa_best_sa": 81.0, "test_ra_best_sa": 30.0}
            for pruner, k in (("dense", 0), ("imp_st", 1)) for regime in ("standard", "adversarial") for seed in (0, 1)]
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    titles = []
    monkeypatch.setattr(plot_style, "save", lambda fig, out: titles.extend(ax.get_title() for ax in fig.axes))
    plots_doublewin.fig4(path, tmp_path / "fig4.pdf")
    assert [t for t in titles if t] == ["d: ST-SA", "d: AT-SA (best-RA ckpt)", "d: AT-RA"]
    at_sa = metrics.long_form(pd.read_csv(path)).query("panel == 'AT-SA'")
    assert sorted(at_sa["value"]) == [79.0, 80.0, 80.0, 81.0]  # test_sa (best RA), not test_sa_best_sa
