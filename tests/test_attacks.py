import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams
from sparserobust.models import registry as models
from sparserobust.training import attacks, engine


@pytest.fixture(scope="module")
def trained():
    """A model trained with a fixed seed and thread count (the model's initialisation draws from the
    global generator, and the CPU kernels sum in an order that depends on the threads), so that the
    seeded attack results below are the same in every run."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
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
    saved = {k: v.clone() for k, v in model.state_dict().items()}  # train-mode passes move the BN statistics
    seen = []
    hook = model.net.register_forward_pre_hook(lambda mod, inp: seen.append(mod.training))
    try:
        model.eval()
        attacks.pgd(model, x[:8], y[:8], hparams.attack({"eps": 8, "step": 2, "steps": 2, "model_mode": "train"}))
        assert seen == [True, True] and not model.training
        seen.clear()
        model.train()
        attacks.pgd(model, x[:8], y[:8], hparams.attack({"eps": 8, "step": 2, "steps": 2, "model_mode": "eval"}))
        assert seen == [False, False] and model.training
    finally:
        hook.remove()
        model.load_state_dict(saved)  # the shared model as trained, for the tests after this one


def test_pgd_deterministic_with_seed(trained):
    model, x, y = trained
    model.eval()
    a = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 2, "steps": 3}), torch.Generator().manual_seed(3))
    b = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 2, "steps": 3}), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_pgd_ten_steps_beats_one_fgsm_step_and_its_seeded_ra_is_pinned(trained):
    """PGD-10 (eps 8, step 2, seeded random start) must leave clearly fewer images correct than one
    FGSM step of size eps (the same pgd, steps=1, step=eps, no random start): a PGD that stops after
    its first step, ignores `steps`, or loses the gain of iterating fails here, though it stays in
    the ball and still lowers accuracy (the first test). The seeded RA is pinned: 94 of these 200
    images (47 %), measured with this fixture on the CPU, 2 threads (FGSM leaves 118, 59 %); with 1 thread
    the sums run in another order and 98 (49 %) are left, so the band is +-2.5 points."""
    model, x, y = trained
    model.eval()
    fgsm = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 8, "steps": 1, "random_start": False}))
    pgd = attacks.pgd(model, x, y, hparams.attack({"eps": 8, "step": 2, "steps": 10}), torch.Generator().manual_seed(0))
    with torch.no_grad():
        fgsm_acc, pgd_acc = (100 * int((model(adv).argmax(1) == y).sum()) / len(y) for adv in (fgsm, pgd))
    assert pgd_acc <= fgsm_acc - 5, (pgd_acc, fgsm_acc)
    assert abs(pgd_acc - 47.0) <= 2.5, pgd_acc
