import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams
from sparserobust.models import registry as models
from sparserobust.training import attacks, engine


@pytest.fixture(scope="module")
def trained():
    x, y = generate(0, 10, 2000, 0)
    splits = {"train": data.ArrayData(x, y, 10)}
    model = models.Normalized(models.SmallResNet(10, (8, 16, 16)), [0.5] * 3, [0.25] * 3)
    hp = hparams.train({"epochs": 4, "lr": 0.1, "batch_size": 64, "schedule": "cosine"})
    _, _, state = engine.train(model, splits, hp, torch.device("cpu"), seed=0, log=lambda m: None)
    model.load_state_dict(state)
    xt, yt = generate(0, 10, 200, 1)
    model.zero_grad(set_to_none=True)
    return model, xt.float() / 255, yt


def test_pgd_stays_in_ball_and_box_lowers_accuracy_and_restores_mode(trained):
    model, x, y = trained
    hp = hparams.attack({"eps": 8, "step": 2, "steps": 10})
    model.train()
    adv = attacks.pgd(model, x, y, hp, torch.Generator().manual_seed(0))
    assert model.training  # restored
    assert (adv - x).abs().max() <= hp.eps01 + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    model.eval()
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean()
        robust = (model(adv).argmax(1) == y).float().mean()
    assert clean > 0.8
    assert robust < clean - 0.2
    assert all(p.grad is None for p in model.parameters())  # no weight gradients from the attack


def test_pgd_sets_requested_mode_during_attack(trained):
    model, x, y = trained
    seen = []
    hook = model.net.register_forward_pre_hook(lambda mod, inp: seen.append(mod.training))
    model.eval()
    attacks.pgd(model, x[:8], y[:8], hparams.attack({"eps": 8, "step": 2, "steps": 2, "model_mode": "train"}))
    assert seen == [True, True] and not model.training
    seen.clear()
    model.train()
    attacks.pgd(model, x[:8], y[:8], hparams.attack({"eps": 8, "step": 2, "steps": 2, "model_mode": "eval"}))
    assert seen == [False, False] and model.training
    hook.remove()


def test_pgd_deterministic_with_seed(trained):
    model, x, y = trained
    model.eval()
    a = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 2, "steps": 3}), torch.Generator().manual_seed(3))
    b = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 2, "steps": 3}), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
