"""Sparsity Winning Twice: early-ticket test, prune-and-grow, IGQ, FLOPs."""

import math

import pytest
import torch
from torch import nn

from sparserobust.lottery import masks
from sparserobust.models import cifar as cifar_models
from sparserobust.models import flops
from sparserobust.sparse import birds as sparse


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


def test_hamming_distance_is_normalised():
    a = {"w": torch.zeros(10, dtype=torch.bool)}
    b = {"w": torch.zeros(10, dtype=torch.bool)}
    b["w"][:3] = True
    assert sparse.hamming(a, b) == 0.3 and sparse.hamming(a, a) == 0.0


def test_prune_and_grow_exact_keeps_every_layer_count_and_regrows_among_all_zeros():
    gen = torch.Generator().manual_seed(0)
    weights = {"a": torch.randn(64, 32), "b": torch.randn(16, 8, 3, 3), "dense": torch.randn(40, 25)}
    mask = sparse.random_mask({k: tuple(v.shape) for k, v in weights.items()}, {"a": 0.3, "b": 0.5, "dense": 0.97},
                              gen)
    regrew_pruned = False
    for _ in range(20):
        w = {k: v * mask[k] for k, v in weights.items()}
        new, grown = sparse.prune_and_grow(w, mask, 0.5, gen, count="exact")
        for k in mask:
            assert int(new[k].sum()) == int(mask[k].sum())  # exact per layer, the 97 % dense layer too
            assert int((mask[k] & ~(new[k] & ~grown[k])).sum()) == math.ceil(0.5 * int(mask[k].sum()))
            assert not (grown[k] & ~new[k]).any() and int(grown[k].sum()) == math.ceil(0.5 * int(mask[k].sum()))
            survivors = mask[k] & new[k] & ~grown[k]
            gone = mask[k] & ~survivors
            assert w[k][gone].abs().max() <= w[k][survivors].abs().min()  # the smallest magnitudes went
            regrew_pruned |= bool((grown[k] & mask[k]).any())  # a just-pruned position grew back
        mask = new
    assert regrew_pruned


def test_prune_and_grow_approximate_is_right_in_expectation_without_drift():
    """The paper's setting: PreAct ResNet-18, IGQ at density 0.2, rate 0.5 (layers near 0.97 density)."""
    net = cifar_models.preact_resnet18(10)
    names = sparse.sparse_names(net)
    params = dict(net.named_parameters())
    dens = sparse.igq_densities({n: params[n].numel() for n in names}, 0.2)
    gen = torch.Generator().manual_seed(0)
    mask = sparse.random_mask({n: tuple(params[n].shape) for n in names}, dens, gen)
    dense_layer = max(dens, key=dens.get)
    assert dens[dense_layer] > 0.9
    w = {n: params[n].detach() * mask[n] for n in names}
    for _ in range(5):
        mask, _ = sparse.prune_and_grow(w, mask, 0.5, gen)
        assert abs(masks.density(mask) - 0.2) < 2e-3
        assert abs(masks.density({dense_layer: mask[dense_layer]}) - dens[dense_layer]) < 0.1
    with pytest.raises(ValueError, match="regrow_count"):
        sparse.prune_and_grow(w, mask, 0.5, gen, count="roughly")


def test_igq_hits_the_global_density():
    net = cifar_models.preact_resnet18(10)
    names = sparse.sparse_names(net)
    params = dict(net.named_parameters())
    sizes = {n: params[n].numel() for n in names}
    dens = sparse.igq_densities(sizes, 0.2)
    kept = sum(d * sizes[n] for n, d in dens.items())
    assert abs(kept / sum(sizes.values()) - 0.2) < 1e-6
    assert dens["conv1.weight"] > dens["layers.3.1.conv2.weight"]  # small layers stay denser
    mask = sparse.random_mask({n: tuple(params[n].shape) for n in names}, dens, torch.Generator().manual_seed(0))
    assert abs(masks.density(mask) - 0.2) < 1e-3


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


def test_flops_of_dense_resnet18_equal_torch_counter_and_half_density_counts_half():
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    net = torchvision.models.resnet18().eval()
    layers, total = flops.dense_layer_flops(net, (3, 32, 32))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, 32, 32))
    assert total == counter.get_total_flops()
    assert flops.inference_flops(layers, total) == total
    assert sum(layers.values()) == total  # conv + linear are all the counted FLOPs
    half = flops.inference_flops(layers, total, {"layer1.0.conv1.weight": 0.5})
    assert total - half == layers["layer1.0.conv1.weight"] / 2
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert flops.dense_layer_flops(nn.Sequential(conv), (3, 8, 8))[1] == 2 * 8 * 8 * 8 * 3 * 9
    assert flops.training_flops([10.0, 5.0], n_images=2, attack_steps=10) == 2 * 11 * 3 * 15.0


def test_part_b_architectures_build_and_run_at_32_and_64_px():
    expected = {"preact_resnet18": 11.17e6, "vgg16_bn": 14.73e6, "wrn34_10": 46.16e6}
    for arch, params in expected.items():
        net = cifar_models.build(arch, 10).eval()
        count = sum(p.numel() for p in net.parameters())
        assert abs(count - params) / params < 0.01, (arch, count)
        with torch.no_grad():
            for size in (32, 64):
                assert net(torch.zeros(2, 3, size, size)).shape == (2, 10)
