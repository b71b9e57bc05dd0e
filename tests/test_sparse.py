"""Sparsity Winning Twice: early-ticket test, prune-and-grow, IGQ, FLOPs."""

import math

import pytest
import torch
from torch import nn

from sparserobust.lottery import masks
from sparserobust.models import cifar as cifar_models
from sparserobust.sparse import birds as sparse
from sparserobust.sparse import dynamic


def test_early_ticket_fires_on_converging_masks_not_on_changing_ones():
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(2000, generator=gen) < 0.2
    converging = sparse.EarlyTicket(window=5, threshold=0.08)
    fired = []
    for epoch in range(10):
        m = base.clone()
        flip = torch.randperm(2000, generator=gen)[: max(0, 400 - 80 * epoch)]  # fewer changes each epoch
        m[flip] = ~m[flip]
        fired.append(converging.add({"w": m}))
    assert not fired[0] and fired[-1]
    assert fired.index(True) >= 4  # needs a full window
    changing = sparse.EarlyTicket(window=5, threshold=0.08)
    assert not any(changing.add({"w": torch.rand(2000, generator=gen) < 0.2}) for _ in range(10))


def test_robust_birds_watch_stops_at_the_first_epoch_within_threshold_of_every_older_mask_in_its_window():
    """EarlyBirdWatch (Robust Bird's stage 1) on a conv layer of 100 weights whose 20 largest magnitudes move by
    10, 4, 4, 0, 0 positions an epoch: the global mask at density 0.2 differs from the previous epoch's by 0.2,
    0.08, 0.08, 0, 0. Window 3, threshold 0.08: epoch 4 is 0.08 from epoch 3 but 0.16 from epoch 2; epoch 5 is
    0 and 0.08 away, so the ticket is epoch 5 (a test of consecutive masks only would stop at 4, a strict
    threshold at 6, a window of 2 at 3)."""
    net = nn.Sequential(nn.Conv2d(1, 1, (1, 100), bias=False))
    weight = net[0].weight
    signs = torch.tensor([1.0, -1.0]).repeat(50)

    def epoch_end(watch, epoch, first):
        top = (torch.arange(100) >= first) & (torch.arange(100) < first + 20)  # the 20 largest magnitudes
        with torch.no_grad():
            weight.copy_((signs * (0.001 * torch.arange(1, 101) + 10 * top)).view_as(weight))
        watch.after_epoch({"epoch": epoch})

    firsts = [0, 10, 14, 18, 18, 18]
    watch = dynamic.EarlyBirdWatch(net, 0.2, window=3, threshold=0.08)
    for epoch, first in enumerate(firsts[:4], 1):
        epoch_end(watch, epoch, first)
        assert not watch.stop and watch.found_epoch is None
    resumed = dynamic.EarlyBirdWatch(net, 0.2, window=3, threshold=0.08)
    resumed.set_state(watch.state())  # the state a checkpoint keeps
    for w in (watch, resumed):
        epoch_end(w, 5, firsts[4])
        assert w.stop and w.found_epoch == 5
        epoch_end(w, 6, firsts[5])
        assert w.found_epoch == 5
    mask = sparse.global_magnitude_mask(net, ["0.weight"], 0.2)["0.weight"].flatten()
    assert mask.nonzero().flatten().tolist() == list(range(18, 38))


def test_hamming_distance_is_normalised():
    a = {"w": torch.zeros(10, dtype=torch.bool)}
    b = {"w": torch.zeros(10, dtype=torch.bool)}
    b["w"][:3] = True
    assert sparse.hamming(a, b) == 0.3 and sparse.hamming(a, a) == 0.0


# Layers as IGQ leaves them at density 0.2 in PreAct ResNet-18 (its densest three are at 0.97, 0.98 and 0.99):
# name -> (shape, kept weights)
LAYERS = {"near": ((40, 25), 970), "edge": ((10, 100), 980), "full": ((8, 25), 200), "sparse": ((20, 30), 121)}


def layer_case(seed=0):
    gen = torch.Generator().manual_seed(seed)
    mask = sparse.random_mask({k: shape for k, (shape, _) in LAYERS.items()},
                              {k: kept / math.prod(shape) for k, (shape, kept) in LAYERS.items()}, gen)
    assert {k: int(m.sum()) for k, m in mask.items()} == {k: kept for k, (_, kept) in LAYERS.items()}
    weights = {k: torch.randn(shape, generator=gen) * mask[k] for k, (shape, _) in LAYERS.items()}
    return weights, mask, gen


def largest(scores, where, count):
    """A bool tensor marking the `count` largest `scores` among the positions `where` (a plain reimplementation)."""
    out = torch.zeros(scores.numel(), dtype=torch.bool)
    out[torch.where(where.flatten(), scores.flatten(), torch.tensor(-1.0)).topk(count).indices] = True
    return out.view_as(where)


def check_update(weights, mask, new, grown, pruned_count, grown_count, kept_after):
    """The survivors are the largest magnitudes, grown positions are zeros after pruning, and the counts are exact."""
    for k in mask:
        survivors = largest(weights[k].abs(), mask[k], int(mask[k].sum()) - pruned_count[k])
        assert torch.equal(new[k] & ~grown[k], survivors), k
        assert not (grown[k] & survivors).any() and torch.equal(new[k], survivors | grown[k]), k
        assert int(grown[k].sum()) == grown_count[k], k
        assert int(new[k].sum()) == kept_after[k], k


def test_prune_and_grow_on_nearly_dense_layers_at_rate_half_gives_exact_counts():
    """Rate 0.5 on layers at density 0.97, 0.98, 1 and 0.2 (121 of 600 kept), counts by hand: prune ceil(0.5 x kept),
    regrow as many among every zero after pruning. The 97 % layer has only 30 zeros before pruning for its 485
    regrown weights, so at least 455 are just-pruned positions; the dense layer regrows exactly what it pruned.
    With equal regrowth the zeros after pruning always suffice; the cap on regrowth binds under Flying Bird+'s
    extra growth, above density 0.976."""
    weights, mask, gen = layer_case()
    new, grown = sparse.prune_and_grow(weights, mask, 0.5, gen, count="exact")
    check_update(weights, mask, new, grown, {"near": 485, "edge": 490, "full": 100, "sparse": 61},
                 {"near": 485, "edge": 490, "full": 100, "sparse": 61},
                 {"near": 970, "edge": 980, "full": 200, "sparse": 121})
    assert int((grown["near"] & mask["near"]).sum()) >= 455
    assert new["full"].all() and torch.equal(grown["full"], mask["full"] & ~(new["full"] & ~grown["full"]))
    # Flying Bird+'s extra growth (x 1.05): the regrowth is capped by the zeros after pruning, which binds above
    # density 0.976 (0.98: 514.5 wanted, 20 + 490 zeros; the dense layer: 105 wanted, 100 zeros)
    new, grown = sparse.prune_and_grow(weights, mask, 0.5, gen, grow_factor=1.05, count="exact")
    check_update(weights, mask, new, grown, {"near": 485, "edge": 490, "full": 100, "sparse": 61},
                 {"near": 509, "edge": 510, "full": 100, "sparse": 64},
                 {"near": 994, "edge": 1000, "full": 200, "sparse": 124})
    approx, _ = sparse.prune_and_grow(weights, mask, 0.5, gen, grow_factor=1.05)  # Bernoulli at probability >= 1
    assert approx["edge"].all() and approx["full"].all()
    # Flying Bird+'s extra pruning: ceil(0.25 x kept) more of the smallest, regrowth still ceil(0.5 x kept)
    new, grown = sparse.prune_and_grow(weights, mask, 0.5, gen, extra_prune=0.25, count="exact")
    check_update(weights, mask, new, grown, {"near": 728, "edge": 735, "full": 150, "sparse": 92},
                 {"near": 485, "edge": 490, "full": 100, "sparse": 61},
                 {"near": 727, "edge": 735, "full": 150, "sparse": 90})
    # rate + extra above 1: every kept weight goes (the prune cap), ceil(0.8 x kept) grow back
    new, grown = sparse.prune_and_grow(weights, mask, 0.8, gen, extra_prune=0.4, count="exact")
    check_update(weights, mask, new, grown, {k: kept for k, (_, kept) in LAYERS.items()},
                 {"near": 776, "edge": 784, "full": 160, "sparse": 97}, {"near": 776, "edge": 784, "full": 160, "sparse": 97})


def test_prune_and_grow_by_gradient_regrows_the_largest_gradients_among_the_zeros_after_pruning():
    weights, mask, gen = layer_case(1)
    grads = {k: torch.randn(w.shape, generator=gen) for k, w in weights.items()}
    new, grown = sparse.prune_and_grow(weights, mask, 0.5, gen, grads=grads)
    for k, (_, kept) in LAYERS.items():
        n = math.ceil(0.5 * kept)
        survivors = largest(weights[k].abs(), mask[k], kept - n)
        assert torch.equal(grown[k], largest(grads[k].abs(), ~survivors, n)), k
        assert torch.equal(new[k], survivors | grown[k]), k


def test_prune_and_grow_approximate_is_right_in_expectation_without_drift():
    """IGQ at density 0.2 on PreAct ResNet-18 (quarter width: the densest layer at 0.97), rate 0.5."""
    net = cifar_models.preact_resnet18(10, 0.25)
    names = sparse.sparse_names(net)
    params = dict(net.named_parameters())
    dens = sparse.igq_densities({n: params[n].numel() for n in names}, 0.2)
    gen = torch.Generator().manual_seed(0)
    mask = sparse.random_mask({n: tuple(params[n].shape) for n in names}, dens, gen)
    dense_layer = max(dens, key=dens.get)
    assert dens[dense_layer] > 0.9
    w = {n: params[n].detach() * mask[n] for n in names}
    for _ in range(3):
        mask, _ = sparse.prune_and_grow(w, mask, 0.5, gen)
        assert abs(masks.density(mask) - 0.2) < 2e-3
        assert abs(masks.density({dense_layer: mask[dense_layer]}) - dens[dense_layer]) < 0.1
    with pytest.raises(ValueError, match="regrow_count"):
        sparse.prune_and_grow(w, mask, 0.5, gen, count="roughly")


def test_igq_densities_satisfy_the_ideal_gas_identity_and_the_global_density():
    """IGQ: density_l = 1 / (f x N_l + 1), so (1 / density_l - 1) / N_l is the same f for every layer, and the
    kept weights add up to the global density. The formula never passes 1: only the global density 1 keeps a
    layer whole, and a small layer beside big ones comes out nearly dense (random_mask then keeps all of it)."""
    sizes = {"stem": 27, "small": 2304, "mid": 36864, "big": 589824, "fc": 640}
    total = sum(sizes.values())
    for density in (0.01, 0.2, 0.5, 0.9):
        dens = sparse.igq_densities(sizes, density)
        f = [(1 / d - 1) / sizes[n] for n, d in dens.items()]
        assert max(f) - min(f) <= 1e-9 * min(f), density
        kept = sum(d * sizes[n] for n, d in dens.items())
        assert kept == pytest.approx(density * total, rel=1e-9)
        assert all(0 < d < 1 for d in dens.values())
    dens = sparse.igq_densities(sizes, 0.2)
    assert dens["stem"] > dens["fc"] > dens["small"] > dens["mid"] > dens["big"]  # smaller layers stay denser
    assert 1 - 1 / (2 * 27) < dens["stem"] < 1  # f ~ 1 / 110,000: all 27 weights kept after rounding
    mask = sparse.random_mask({n: (s,) for n, s in sizes.items()}, dens, torch.Generator().manual_seed(0))
    assert mask["stem"].all() and int(mask["big"].sum()) == round(dens["big"] * sizes["big"])
    assert sparse.igq_densities(sizes, 1.0) == {n: 1.0 for n in sizes}
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="swt.density"):
            sparse.igq_densities(sizes, bad)


def test_adaptive_control_rules():
    ctl = sparse.AdaptiveControl(start_epoch=3, window=5)
    for e, (gap, loss) in enumerate([(1, 1), (2, 1.1), (3, 1.2), (4, 1.3), (5, 1.4)], start=1):
        ctl.observe(e, gap, loss)
    assert ctl.decision() == (0.4, 1.05)
    for e, (gap, loss) in enumerate([(5, 1.4), (4, 1.3), (3, 1.2), (2, 1.1), (1, 1.0)], start=6):
        ctl.observe(e, gap, loss)
    assert ctl.decision() == (0.0, 1.0)
    early = sparse.AdaptiveControl(start_epoch=100, window=2)
    early.observe(1, 1, 1)
    early.observe(2, 5, 5)
    assert early.decision() == (0.0, 1.0)


def test_part_b_architectures_build_and_run_at_32_and_64_px():
    expected = {"preact_resnet18": 11.17e6, "vgg16_bn": 14.73e6, "wrn34_10": 46.16e6}
    for arch, params in expected.items():
        net = cifar_models.build(arch, 10).eval()
        count = sum(p.numel() for p in net.parameters())
        assert abs(count - params) / params < 0.01, (arch, count)
        with torch.no_grad():
            for size in (32, 64):
                assert net(torch.zeros(2, 3, size, size)).shape == (2, 10)
