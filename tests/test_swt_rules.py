"""Sparsity Winning Twice as the authors' code runs it, each rule on a small case with a known answer:
FLOPs by both rules, Robust Bird's milestones and definitions, Flying Bird's update order and interval
schedule, the two-teacher distillation loss, SWA, fp32 evaluation and AutoAttack."""

import copy
import dataclasses
import json
import os
import signal

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams
from sparserobust.lottery import masks
from sparserobust.models import flops
from sparserobust.models import registry as models
from sparserobust.pipeline import jobs
from sparserobust.sparse import birds, dynamic, outcome, swt
from sparserobust.sparse.swa import SWA
from sparserobust.training import autoattack, engine, evaluate, optim, step

from conftest import ROOT

CPU = torch.device("cpu")


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, bias=False)  # 4x4 input -> 2x2 output: 2 x (2 x 9) x 4 = 144 FLOPs
        self.fc = nn.Linear(8, 2, bias=False)  # 2 x 8 x 2 = 32 FLOPs

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def test_flops_by_both_rules_on_a_two_layer_net_by_hand():
    net = TwoLayer()
    layers, total = flops.dense_layer_flops(net, (1, 4, 4))
    assert layers == {"conv.weight": 144, "fc.weight": 32} and total == 176
    mask = {"conv.weight": torch.zeros(2, 1, 3, 3, dtype=torch.bool), "fc.weight": torch.zeros(2, 8, dtype=torch.bool)}
    mask["conv.weight"].view(-1)[:9] = True  # half the conv: 72 FLOPs
    mask["fc.weight"].view(-1)[:4] = True  # a quarter of the fc: 8 FLOPs
    per_layer = flops.inference_flops(layers, total, masks.layer_densities(mask))
    glob = flops.global_inference_flops(total, masks.density(mask))
    assert per_layer == pytest.approx(80.0)
    assert glob == pytest.approx(176 * 13 / 34)  # 13 of 34 weights kept
    counts = outcome.flop_counts(layers, total, [(masks.layer_densities(mask), masks.density(mask))] * 2,
                                 masks.layer_densities(mask), masks.density(mask), images=3, attack_steps=10, epochs=2,
                                 stage1_epochs=1)
    stage1 = 3 * 1 * 3 * 176  # one clean dense epoch: 3 images x 1 pass x 3 x FLOPs
    assert counts["train_flops"] == pytest.approx(stage1 + 2 * 3 * 11 * 3 * 80)
    assert counts["train_flops_global"] == pytest.approx(stage1 + 2 * 3 * 11 * 3 * 176 * 13 / 34)
    assert counts["dense_train_flops"] == 2 * 3 * 11 * 3 * 176


def test_robust_bird_stage2_milestones_come_from_the_config_and_both_definitions_are_computed():
    spec = {"method": "robust_bird", "train": {"epochs": 10, "lr": 0.1, "batch_size": 8, "milestones": [5, 8]},
            "robust_bird": {"stage2_milestones": [3, 6]}}
    assert swt.train_hparams(spec).milestones == (3, 6)
    assert swt.train_hparams({**spec, "method": "flying_bird"}).milestones == (5, 8)
    history = [{"test_ra": 40.0, "train_acc": 50.0}, {"test_ra": 45.0, "train_acc": 60.0},
               {"test_ra": 42.0, "train_acc": 58.0}]
    got = outcome.definitions(history, {"final_test_ra": 41.0})
    assert got == {"max_test_ra": 45.0, "final_gap_running": 58.0 - 41.0, "best_gap_running": 60.0 - 45.0}


def test_flying_bird_update_interval_switches_at_its_iteration():
    assert birds.update_interval([[101, 1200]], 900, 100) == 900
    assert birds.update_interval([[101, 1200]], 900, 101) == 1200
    net = nn.Linear(20, 10, bias=False)
    mask = {"weight": torch.rand(10, 20, generator=torch.Generator().manual_seed(0)) < 0.5}
    fb = dynamic.FlyingBird(net, mask, {"update_every": 4, "update_schedule": [[2, 6]], "rate_start": 0.5, "rate_end": 0.1},
                    total_steps=20, seed=0)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for s in range(1, 21):  # 5 steps per epoch; the interval becomes 6 once 2 epochs are done (step 10)
        fb.after_step(s, opt)
        if s % 5 == 0:
            fb.after_epoch({"epoch": s // 5})
    assert [e["step"] for e in fb.density_log] == [4, 8, 12, 18]
    assert [e["interval"] for e in fb.density_log] == [4, 4, 6, 6]


def test_grown_weights_and_their_momentum_start_at_zero_in_the_engine_step():
    torch.manual_seed(0)
    model = models.Normalized(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10)), [0.5] * 3, [0.25] * 3)
    name = "1.weight"
    mask = {name: torch.rand(10, 48, generator=torch.Generator().manual_seed(1)) < 0.3}
    masks.apply(model.net, mask)
    before = mask[name].clone()
    x, y = generate(1, 10, 8, 0, size=4)
    hp = hparams.train({"epochs": 1, "lr": 0.5, "batch_size": 8, "momentum": 0.9, "precision": "fp32"})
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    fb = dynamic.FlyingBird(model.net, mask, {"update_every": 1, "rate_start": 0.5, "rate_end": 0.5}, 1, seed=0)
    ctx = step.StepContext(hp, CPU, opt, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1),
                           mask=mask, sparsifier=fb)
    step.train_epoch(model, data.ArrayData(x, y, 10), ctx)
    grown = mask[name] & ~before
    assert fb.density_log and grown.any()
    weight = dict(model.net.named_parameters())[name]
    assert (weight[grown] == 0).all() and (opt.buffer_of(weight)[grown] == 0).all()
    assert (weight[~mask[name]] == 0).all()


def test_two_teacher_distillation_loss_weights():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    t1, t2 = torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[3.0, 0.0, 0.0]])
    y = torch.tensor([0])
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 1, "kd_ce": 0.3, "kd_weights": [0.1, 0.6],
                        "kd_temperature": 2.0})

    def soft_ce(teacher):  # Chen et al.'s loss_fn_kd by hand
        p = F.softmax(teacher / 2.0, dim=1)
        return -(p * F.log_softmax(logits / 2.0, dim=1)).sum() * 4.0

    teachers = (lambda x: t1, lambda x: t2)
    got = step._loss(logits, y, None, hp, teachers)
    want = 0.3 * F.cross_entropy(logits, y) + 0.1 * soft_ce(t1) + 0.6 * soft_ce(t2)
    assert float(got) == pytest.approx(float(want))
    assert float(step._loss(logits, y, None, dataclasses.replace(hp, kd_weights=()), ())) == \
        pytest.approx(float(F.cross_entropy(logits, y)))
    with pytest.raises(ValueError, match="2 distillation weights for 1 teachers"):
        step._loss(logits, y, None, hp, teachers[:1])


def test_swa_is_an_equal_weight_running_mean_from_its_start_epoch():
    model = models.Normalized(nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(32, 2)),
                              [0.5] * 3, [0.25] * 3)
    swa = SWA(model, start=3, every=1)
    assert not swa.due(2) and swa.due(3) and swa.due(4)
    seen = []
    for v in (1.0, 2.0, 6.0):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(v)
        swa.update(model)
        seen.append(v)
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in swa.avg.parameters())
    x, y = generate(1, 2, 16, 0, size=4)
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 4})
    averaged = swa.evaluated(data.ArrayData(x, y, 2), hp, CPU)
    bn = averaged.net[1]
    assert not averaged.training and int(bn.num_batches_tracked) == 4 and bn.momentum == 0.1


def test_evaluation_runs_in_fp32_by_default_whatever_the_training_precision():
    model = models.Normalized(nn.Sequential(nn.Flatten(), nn.Linear(48, 10)), [0.5] * 3, [0.25] * 3)
    seen = []
    model.register_forward_pre_hook(lambda mod, args: seen.append(torch.is_autocast_enabled("cpu")))
    x, y = generate(1, 10, 16, 0, size=4)
    test = data.ArrayData(x, y, 10)
    attack = {"eps": 8, "step": 2, "steps": 2, "model_mode": "eval"}
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 8, "precision": "bf16", "eval_attack": attack})
    evaluate.report(model, test, CPU, hp)
    assert seen and not any(seen)  # clean and PGD passes: no autocast
    seen.clear()
    evaluate.report(model, test, CPU, dataclasses.replace(hp, eval_precision="train"))
    assert seen and all(seen)  # the switch: evaluate like training (bf16)
    with pytest.raises(ValueError, match="eval_precision"):
        evaluate.report(model, test, CPU, dataclasses.replace(hp, eval_precision="fp16"))


def test_autoattack_is_no_weaker_than_pgd_on_a_trained_model():
    torch.manual_seed(0)
    x, y = generate(5, 10, 600, 0, noise=0.1)
    xt, yt = generate(5, 10, 48, 1, noise=0.1)
    train, test = data.ArrayData(x, y, 10), data.ArrayData(xt, yt, 10)
    model = models.prepare(models.Normalized(models.SmallResNet(10, (8, 16, 32)), [0.5] * 3, [0.25] * 3), CPU)
    hp = hparams.train({"epochs": 4, "lr": 0.05, "batch_size": 32, "schedule": "cosine", "precision": "fp32",
                        "train_attack": {"eps": 4, "step": 2, "steps": 2, "model_mode": "train"}})
    engine.train(model, {"train": train}, hp, CPU, 0, log=lambda m: None)
    model.eval()
    pgd = hparams.attack({"eps": 4, "step": 1, "steps": 10, "model_mode": "eval"})
    clean, _ = evaluate.accuracy(model, test, CPU, 48)
    pgd_ra, _ = evaluate.accuracy(model, test, CPU, 48, attack=pgd)
    assert clean > 0.3 and pgd_ra > 0.0  # it learned and is not trivially broken by PGD
    got = autoattack.robust_accuracy(model, test, CPU, autoattack.AutoAttackHParams(eps=4, n=48, steps=10, queries=50),
                                     10, pgd=pgd)
    assert got["aa"] <= 100 * pgd_ra and got["clean"] == pytest.approx(100 * clean)
    assert got["pgd"] == pytest.approx(100 * pgd_ra, abs=100 * 2 / 48)  # the same images, other random starts
    assert not model.training  # the attack left the model as it found it
    assert evaluate.accuracy(model, test, CPU, 48)[0] == clean


def test_a_preempted_flying_bird_plus_swa_run_resumes_to_the_same_record(tmp_path, monkeypatch):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg.pop("autoattack")
    cfg["datasets"]["demo_swt_a"].update(train_size=200, val_size=50, test_size=50)
    sw = cfg["swt"]
    sw["train"]["epochs"] = 4
    sw["flying_bird"].update(update_every=3, update_schedule=[[2, 5]])
    sw["flying_bird_plus"].update(start_epoch=1, window=2)
    spec = jobs.swt(cfg, sw["archs"][0], "demo_swt_a", "flying_bird_plus", 0)
    spec["swa"] = {"start": 2, "every": 1}  # SWA without teachers: the averaging's state resumes too

    def record(name):
        rec = json.loads((tmp_path / name).read_text())
        rec.pop("seconds")
        for h in rec["history"]:
            h.pop("seconds")
        return rec

    swt.run(copy.deepcopy(spec), str(tmp_path / "whole.json"), lambda m: None)
    original = dynamic.FlyingBird.after_step

    def preempting(self, step, opt):
        if step == 17:  # inside epoch 3 (7 steps per epoch), after an update at step 15
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, step, opt)

    handler = signal.getsignal(signal.SIGTERM)
    try:
        monkeypatch.setattr(dynamic.FlyingBird, "after_step", preempting)
        with pytest.raises(SystemExit) as stop:
            swt.run(copy.deepcopy(spec), str(tmp_path / "parts.json"), lambda m: None)
        assert stop.value.code == 143 and not (tmp_path / "parts.json").exists()
        monkeypatch.setattr(dynamic.FlyingBird, "after_step", original)
        swt.run(copy.deepcopy(spec), str(tmp_path / "parts.json"), lambda m: None)
    finally:
        signal.signal(signal.SIGTERM, handler)
    whole, parts = record("whole.json"), record("parts.json")
    assert whole["density_log"] and any(h.get("swa_test_ra") is not None for h in whole["history"])
    assert parts == whole
