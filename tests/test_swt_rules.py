"""Sparsity Winning Twice as the authors' code runs it, each rule on a small case with a known answer:
FLOPs by both rules, Robust Bird's milestones and definitions, Flying Bird's update order and interval
schedule, the two-teacher distillation loss, SWA, fp32 evaluation and AutoAttack."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparserobust.data import arrays as data
from sparserobust.data.demo import generate
from sparserobust.foundations import hparams
from sparserobust.lottery import masks
from sparserobust.models import flops
from sparserobust.models import registry as models
from sparserobust.sparse import birds, dynamic, outcome, swt
from sparserobust.sparse.swa import SWA
from sparserobust.training import autoattack, engine, evaluate, optim, step

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


def test_two_teacher_distillation_loss_by_hand_follows_its_weights_and_temperature():
    """Chen et al.'s loss (main_adv.py, utils.py loss_fn_kd): kd_ce x CE(student, labels) + sum_i w_i x T^2 x
    mean over the batch of sum_c softmax(teacher_i / T)_c x -log softmax(student / T)_c, by hand on 3 classes."""
    student = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]
    t1, t2 = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], [[3.0, 0.0, 0.0], [0.0, 0.0, 2.0]]
    labels = [0, 1]

    def softmax(row, t=1.0):
        e = [math.exp(v / t) for v in row]
        return [v / sum(e) for v in e]

    def by_hand(ce_weight, weights, t):
        ce = sum(-math.log(softmax(s)[c]) for s, c in zip(student, labels)) / 2
        soft = [sum(sum(-p * math.log(q) for p, q in zip(softmax(tr, t), softmax(s, t)))
                    for s, tr in zip(student, teacher)) / 2 * t ** 2 for teacher in (t1, t2)]
        return ce_weight * ce + weights[0] * soft[0] + weights[1] * soft[1]

    logits, y = torch.tensor(student, dtype=torch.float64), torch.tensor(labels)
    teachers = (lambda x: torch.tensor(t1, dtype=torch.float64), lambda x: torch.tensor(t2, dtype=torch.float64))

    def loss(ce_weight, weights, t):
        hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 2, "kd_ce": ce_weight, "kd_weights": weights,
                            "kd_temperature": t})
        return float(step._loss(logits, y, None, hp, teachers))

    for ce_weight, weights, t in ((0.3, [0.1, 0.6], 2.0), (0.3, [0.1, 0.6], 4.0), (0.3, [0.6, 0.1], 2.0),
                                  (1.0, [0.0, 0.0], 2.0), (0.0, [1.0, 0.0], 1.0)):
        assert loss(ce_weight, weights, t) == pytest.approx(by_hand(ce_weight, weights, t), rel=1e-12), (weights, t)
    base = loss(0.3, [0.1, 0.6], 2.0)
    assert abs(loss(0.3, [0.1, 0.6], 4.0) - base) > 0.05 and abs(loss(0.3, [0.6, 0.1], 2.0) - base) > 0.05
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 2, "kd_weights": [0.1, 0.6]})
    assert float(step._loss(logits, y, None, dataclasses.replace(hp, kd_weights=()), ())) == \
        pytest.approx(by_hand(1.0, [0.0, 0.0], 1.0), rel=1e-12)
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


def test_the_end_of_swa_masks_the_average_then_recomputes_batch_norm_over_the_training_data():
    """SWA.evaluated: the mask goes on the averaged weights (averages of dense-updated states are nonzero at pruned
    positions), then batch norm's statistics are recomputed over the training data with the masked weights: the
    equal-weight mean over batches of each batch's mean and unbiased variance, computed here by hand."""
    torch.manual_seed(0)
    conv, fc = nn.Conv2d(3, 2, 1, bias=False), nn.Linear(32, 2)
    model = models.Normalized(nn.Sequential(conv, nn.BatchNorm2d(2), nn.Flatten(), fc), [0.5] * 3, [0.25] * 3)
    with torch.no_grad():
        model.net[1].running_mean.fill_(5.0)  # stale statistics the average starts from
        model.net[1].running_var.fill_(7.0)
    swa = SWA(model, start=1)
    states = []
    for scale in (1.0, -3.0):
        with torch.no_grad():
            conv.weight.copy_(scale * torch.arange(1.0, 7.0).view(2, 3, 1, 1))
            fc.weight.normal_()
        swa.update(model)
        states.append((conv.weight.clone(), fc.weight.clone()))
    mask = {"0.weight": torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.bool).view(2, 3, 1, 1),
            "3.weight": torch.rand(2, 32, generator=torch.Generator().manual_seed(2)) < 0.5}
    x, y = generate(1, 2, 16, 0, size=4)
    train = data.ArrayData(x, y, 2)
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 4})  # no augmentation: the batches are the images
    averaged = swa.evaluated(train, hp, CPU, mask, seed=3)
    w_conv, w_fc = averaged.net[0].weight, averaged.net[3].weight
    mean_conv, mean_fc = (states[0][0] + states[1][0]) / 2, (states[0][1] + states[1][1]) / 2
    assert (mean_conv[~mask["0.weight"]] != 0).all() and (mean_fc[~mask["3.weight"]] != 0).all()
    assert (w_conv[~mask["0.weight"]] == 0).all() and (w_fc[~mask["3.weight"]] == 0).all()
    assert torch.allclose(w_conv, mean_conv * mask["0.weight"]) and torch.allclose(w_fc, mean_fc * mask["3.weight"])
    means, variances = [], []
    for xb, _ in data.batches(train, 4, CPU, hp.augment, torch.Generator().manual_seed(3), shuffle=True):
        z = F.conv2d((xb - 0.5) / 0.25, mean_conv * mask["0.weight"])  # the batch-norm input, by hand
        means.append(z.mean((0, 2, 3)))
        variances.append(z.var((0, 2, 3), unbiased=True))
    assert len(means) == 4
    bn = averaged.net[1]
    assert torch.allclose(bn.running_mean, torch.stack(means).mean(0), rtol=1e-5, atol=1e-6)
    assert torch.allclose(bn.running_var, torch.stack(variances).mean(0), rtol=1e-5, atol=1e-6)
    assert not averaged.training


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
