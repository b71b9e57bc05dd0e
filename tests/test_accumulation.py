"""A job given fewer GPUs than its config asks for keeps the papers' global batch: each process
trains micro-batches of at most batch_size / batch_split images and accumulates their gradients,
and the optimiser steps once per global batch. Without batch norm that is the same step as one
full batch, exactly (float64); with batch norm, the statistics are those of each micro-batch."""

import dataclasses

import torch
from torch import nn

from sparserobust.data import arrays as data
from sparserobust.foundations import hparams
from sparserobust.models import registry as models
from sparserobust.training import engine, optim

CPU = torch.device("cpu")


def net():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 7 * 7, 5))
    return models.Normalized(body, [0.5] * 3, [0.25] * 3)


def one_step(hp, batch):
    model = net()
    opt = optim.SGD(model.parameters(), lr=hp.lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(0)
    stats = engine.train_epoch(model, batch, engine.StepContext(hp, CPU, opt, gen, torch.Generator().manual_seed(1),
                                                                engine.autocast_for(CPU, "fp32")))
    return model.state_dict(), stats


def test_micro_batches_cover_the_share_within_the_cap():
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 2048, "batch_split": 8})
    parts = engine.micro_batches(1024, hp)  # 8 GPUs asked, 2 given: each process holds 1024 images
    assert [p.stop - p.start for p in parts] == [256] * 4
    assert engine.micro_batches(2048, hp)[-1].stop == 2048 and len(engine.micro_batches(2048, hp)) == 8
    assert len(engine.micro_batches(256, hp)) == 1  # as many GPUs as asked: no accumulation
    uneven = engine.micro_batches(300, dataclasses.replace(hp, batch_size=200, batch_split=2))
    assert sum(p.stop - p.start for p in uneven) == 300 and max(p.stop - p.start for p in uneven) <= 100


def test_accumulated_step_equals_one_full_batch_step_in_float64():
    torch.set_default_dtype(torch.float64)
    try:
        gen = torch.Generator().manual_seed(3)
        batch = data.ArrayData(torch.randint(0, 256, (24, 3, 16, 16), generator=gen, dtype=torch.uint8),
                               torch.arange(24) % 5, 5)
        for attack in (None, {"eps": 8, "step": 2, "steps": 3, "random_start": False, "model_mode": "train"}):
            base = {"epochs": 1, "lr": 0.1, "batch_size": 24, "train_attack": attack}
            full, full_stats = one_step(hparams.train(base), batch)
            split, split_stats = one_step(hparams.train({**base, "batch_split": 4}), batch)  # 4 x 6 images
            moved = max(float((full[k] - net().state_dict()[k]).abs().max()) for k in full)
            assert moved > 1e-3  # the step did something
            for k in full:
                assert torch.allclose(full[k], split[k], rtol=0, atol=1e-12), k
            assert abs(full_stats["train_loss"] - split_stats["train_loss"]) < 1e-12
            assert full_stats["train_acc"] == split_stats["train_acc"]
    finally:
        torch.set_default_dtype(torch.float32)


def test_batch_split_changes_the_step_with_batch_norm():
    """With batch norm the micro-batches are normalised by their own statistics: not the same step."""
    gen = torch.Generator().manual_seed(3)
    batch = data.ArrayData(torch.randint(0, 256, (16, 3, 16, 16), generator=gen, dtype=torch.uint8),
                           torch.arange(16) % 10, 10)

    def bn_step(split):
        torch.manual_seed(0)
        model = models.Normalized(models.SmallResNet(10, (8, 8, 8)), [0.5] * 3, [0.25] * 3)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 16, "batch_split": split})
        engine.train_epoch(model, batch, engine.StepContext(hp, CPU, opt, torch.Generator().manual_seed(0),
                                                            torch.Generator().manual_seed(1),
                                                            engine.autocast_for(CPU, "fp32")))
        return model.state_dict()

    a, b = bn_step(1), bn_step(4)
    assert any(not torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_every_process_runs_as_many_passes(monkeypatch):
    """Under DDP each pass has collectives (batch norm, gradients): shares of unequal size must
    still be cut into the same number of micro-batches, none empty."""
    hp = hparams.train({"epochs": 1, "lr": 0.1, "batch_size": 128, "batch_split": 4})
    monkeypatch.setenv("WORLD_SIZE", "2")
    for total in (65, 66, 127, 128, 7):
        shares = [len(range(r, total, 2)) for r in range(2)]  # what distributed.shard gives
        counts = [len(engine.micro_batches(n, hp, total)) for n in shares]
        assert counts[0] == counts[1], (total, shares, counts)
        for n in shares:
            sizes = [p.stop - p.start for p in engine.micro_batches(n, hp, total)]
            assert sum(sizes) == n and min(sizes) >= 1 and max(sizes) <= 32
