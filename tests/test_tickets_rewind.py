"""IMP through stages.make_ticket on a tiny demo setting: round 2 re-trains from the pre-trained
weights under the round-1 mask (BN statistics included), and the re-training decides the mask:
IMP differs from one-shot OMP at the same sparsity, and IMP-AT from IMP-ST."""

import pytest
import torch

from sparserobust.data import arrays as data
from sparserobust.foundations import hparams, provenance
from sparserobust.lottery import masks
from sparserobust.models import pretrained as weights
from sparserobust.models import registry as models
from sparserobust.pipeline import config, jobs, stages
from sparserobust.training import engine

from conftest import ROOT


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    """(config, pre-trained state, {name: mask}, {pruner: the network's state when its round-2
    re-training takes its first step}, round-2 IMP-ST ticket path, weights path)."""
    tmp = tmp_path_factory.mktemp("tickets")
    cfg = config.load(ROOT / "config" / "demo.yaml")
    cfg["model"]["arch"] = "small_resnet:4-8-8"
    cfg["datasets"]["demo_source"].update(train_size=128, val_size=16, test_size=16)
    cfg["imp"]["retrain"].update(epochs=2, batch_size=64, lr=0.1)
    source = jobs.prepared(cfg, cfg["source"]["dataset"])
    # pre-training: one short epoch, so the BN running statistics and batch counts are not their initial values
    torch.manual_seed(0)
    model = models.network({"arch": cfg["model"]["arch"]}, 10, source)
    hp = hparams.train({"epochs": 1, "lr": 0.05, "batch_size": 64, "precision": "fp32"})
    _, _, state = engine.train(model, {"train": data.load_splits(source)["train"]}, hp, torch.device("cpu"), 0,
                               log=lambda m: None)
    model.load_state_dict(state)
    pre = {k: v.clone() for k, v in model.net.state_dict().items()}
    w = tmp / "w.pt"
    weights.save_canonical(pre, w, {"format": "torchvision"}, None, "pretrain.standard")

    starts, running, train_epoch = {}, {}, engine.train_epoch

    def first_step(net, train, ctx, *args, **kwargs):  # the state re-training starts from, mask applied
        starts.setdefault(running["pruner"], {k: v.detach().clone() for k, v in net.net.state_dict().items()})
        return train_epoch(net, train, ctx, *args, **kwargs)

    paths = {}

    def make(pruner, k, previous=None):
        spec = jobs.ticket(cfg, "standard", pruner, k)
        spec["device"] = "cpu"
        paths[pruner, k] = tmp / f"{pruner}{k}.pt"
        stages.make_ticket(spec, w, previous, paths[pruner, k], lambda m: None)
        return paths[pruner, k]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "train_epoch", first_step)
        dense = make("dense", 0)
        make("omp", 2)
        for pruner in ("imp_st", "imp_at"):
            running["pruner"] = pruner
            make(pruner, 2, make(pruner, 1, dense))
    found = {f"{p}{k}": masks.load(path) for (p, k), path in paths.items()}
    return cfg, pre, found, starts, paths["imp_st", 2], w


def test_round_two_retrains_from_the_pretrained_weights_and_bn_under_the_round_one_mask(tickets):
    """Rewinding: re-training starts from the pre-trained state, pruned weights zero, everything else
    (BN weights, running statistics and batch counts, fc) exactly pre-trained; not from a fresh
    network, nor with BN statistics reset."""
    _, pre, found, starts, _, _ = tickets
    assert (pre["bn1.running_var"] != 1).all() and int(pre["bn1.num_batches_tracked"]) > 0  # moved from init
    assert set(starts) == {"imp_st", "imp_at"}  # round 1 prunes the pre-trained weights; round 2 re-trains
    for pruner, start in starts.items():
        mask = found[f"{pruner}1"]
        assert start.keys() == pre.keys()
        for key, value in pre.items():
            expected = value * mask[key] if key in mask else value
            assert torch.equal(start[key], expected), (pruner, key)


def test_ticket_file_holds_the_mask_and_the_transfer_model_is_the_pretrained_one_under_it(tickets):
    """A ticket stores the mask (with its statistics and provenance), no weights: the transfer model
    is rebuilt from the pre-trained file. Built from the round-2 ticket, it is the pre-trained
    network under that mask, BN statistics included; only the head is new."""
    cfg, pre, found, _, path, w = tickets
    blob = provenance.load_torch(path)
    assert not any(torch.is_tensor(v) and v.is_floating_point() for v in blob.values())
    assert set(blob["mask"]) == set(masks.prunable_names(models.build(cfg["model"]["arch"], 10)))
    mask = found["imp_st2"]
    assert all(not (mask[n] & ~found["imp_st1"][n]).any() for n in mask)  # nested in round 1
    assert abs(masks.density(mask) - 0.25) < 1e-3
    spec = jobs.transfer(cfg, "standard", "imp_st", 2, "demo_cifar10", "full", "standard", 0)
    model, got = stages.ticket_model(spec, w, path)
    assert all(torch.equal(got[n], mask[n]) for n in mask)
    masks.apply(model.net, got)
    for key, value in model.net.state_dict().items():
        if key.startswith("fc."):
            continue
        assert torch.equal(value, pre[key] * mask[key] if key in mask else pre[key]), key


def test_retraining_decides_the_round_two_mask(tickets):
    """IMP round 2 prunes the re-trained weights: it differs from one-shot magnitude pruning of the
    pre-trained weights (OMP) at the same sparsity, which it would equal if re-training were
    skipped; IMP-AT (re-trained under PGD) differs from IMP-ST, which it would equal if the attack
    were dropped. Of the 2,508 prunable weights (627 kept), 90 and 140 entries differ here."""
    _, _, found, _, _, _ = tickets

    def differing(a, b):
        return sum(int((a[n] != b[n]).sum()) for n in a)

    assert masks.sparsity(found["imp_st2"]) == masks.sparsity(found["omp2"]) == masks.sparsity(found["imp_at2"])
    assert differing(found["imp_st1"], found["imp_at1"]) == 0  # round 1: the same pruning of the same weights
    imp_omp, at_st = differing(found["imp_st2"], found["omp2"]), differing(found["imp_at2"], found["imp_st2"])
    assert imp_omp >= 20 and at_st >= 20, (imp_omp, at_st)
