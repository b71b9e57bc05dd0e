import torch
from torch import nn

from sparserobust.lottery import masks, pruning
from sparserobust.models import registry as models


def small():
    torch.manual_seed(0)
    return models.SmallResNet(10, (4, 8, 8))


def test_prunable_names_are_all_conv_weights_only():
    net = small()
    names = masks.prunable_names(net)
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    assert names == [f"{c}.weight" for c in convs]
    assert "conv1.weight" in names and any("downsample.0" in n for n in names)
    assert not any(n.startswith("fc") or ".bn" in n for n in names)


def test_global_magnitude_threshold_removes_exactly_the_smallest():
    net = small()
    state = dict(net.named_parameters())
    mask = masks.ones_like(net)
    new = pruning.prune("magnitude", state, mask, fraction=0.2)
    every = torch.cat([state[n].detach().abs().flatten() for n in mask])
    kept = torch.cat([state[n].detach().abs()[new[n]] for n in mask])
    pruned = torch.cat([state[n].detach().abs()[~new[n]] for n in mask])
    assert pruned.numel() == round(0.2 * every.numel())
    assert pruned.max() <= kept.min()  # one global threshold across layers
    densities = masks.layer_densities(new)
    assert len({round(d, 3) for d in densities.values()}) > 1  # not layer-wise uniform


def test_twenty_percent_of_remaining_per_round():
    net = small()
    state = dict(net.named_parameters())
    mask = masks.ones_like(net)
    total = sum(m.numel() for m in mask.values())
    for k in range(1, 5):
        before = sum(int(m.sum()) for m in mask.values())
        new = pruning.prune("magnitude", state, mask, fraction=0.2)
        after = sum(int(m.sum()) for m in new.values())
        assert before - after == round(0.2 * before)
        assert all(not (n & ~o).any() for n, o in zip(new.values(), mask.values()))  # nested
        mask = new
        assert abs(masks.density(mask) - 0.8 ** k) < 2 / total + 1e-3
    assert after == pruning.kept_after_rounds(total, 0.2, 4)


def sgd_epoch(net, seed):
    """A short training epoch (train mode): parameters, BN running statistics and BN batch counts move."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.train()
    for _ in range(3):
        x, y = torch.rand(8, 3, 16, 16, generator=gen), torch.randint(0, 10, (8,), generator=gen)
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


def test_fc_and_bn_untouched_and_rewind_restores_pretrained_under_mask():
    """Rewinding restores every tensor of the pre-trained state: pruned weights zero, the rest,
    BN running statistics and batch counts included, exactly as pre-trained. The pre-trained BN
    statistics differ from both their initial values and the re-trained ones, so a rewind that
    reset them, or kept the re-trained ones, fails."""
    net = small()
    sgd_epoch(net, 0)  # "pre-training"
    pre = {k: v.clone() for k, v in net.state_dict().items()}
    assert int(pre["bn1.num_batches_tracked"]) == 3 and (pre["bn1.running_var"] != 1).all()
    mask = pruning.prune("magnitude", pre, masks.ones_like(net), fraction=0.5)
    sgd_epoch(net, 1)  # "re-training" changes every tensor, the BN buffers too
    assert all(not torch.equal(v, pre[k]) for k, v in net.state_dict().items())
    net.load_state_dict(pruning.rewind(pre, mask))
    now = net.state_dict()
    for key, value in pre.items():
        if key in mask:
            assert torch.equal(now[key][mask[key]], value[mask[key]])
            assert (now[key][~mask[key]] == 0).all()
        else:  # fc, BN and buffers: exactly the pre-trained values, never masked
            assert torch.equal(now[key], value), key
    assert not any(k.startswith("fc") or "bn" in k for k in mask)


def test_random_pruning_same_sparsity_seeded_and_different_from_magnitude():
    net = small()
    state = dict(net.named_parameters())
    ones = masks.ones_like(net)
    a = pruning.prune_to_round("random", state, ones, 0.2, 3, torch.Generator().manual_seed(1))
    b = pruning.prune_to_round("random", state, ones, 0.2, 3, torch.Generator().manual_seed(1))
    m = pruning.prune_to_round("magnitude", state, ones, 0.2, 3)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert masks.sparsity(a) == masks.sparsity(m)
    assert any(not torch.equal(a[n], m[n]) for n in a)


def test_apply_after_step_keeps_pruned_weights_zero():
    net = small()
    mask = pruning.prune("magnitude", dict(net.named_parameters()), masks.ones_like(net), fraction=0.5)
    masks.apply(net, mask)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(3):
        net(torch.rand(4, 3, 16, 16)).sum().backward()
        opt.step()
        masks.apply(net, mask)
    params = dict(net.named_parameters())
    assert all((params[n][~m] == 0).all() for n, m in mask.items())
    assert abs(masks.sparsity(mask) - 0.5) < 1e-3


def test_sgd_and_schedules_equal_torch_optim():
    from sparserobust.foundations import hparams
    from sparserobust.training import optim

    a, b = small(), small()
    b.load_state_dict(a.state_dict())
    ours = optim.SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    ref = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(4, 3, 16, 16)
    for _ in range(3):
        for net, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6), n
    for schedule, cls, kw in (("step", torch.optim.lr_scheduler.MultiStepLR, {"milestones": [3, 6], "gamma": 0.1}),
                              ("cosine", torch.optim.lr_scheduler.CosineAnnealingLR, {"T_max": 9})):
        hp = hparams.train({"epochs": 9, "lr": 0.1, "batch_size": 8, "schedule": schedule, "milestones": [3, 6]})
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = cls(opt, **kw)
        for epoch in range(9):
            assert abs(optim.lr_at(hp, epoch) - opt.param_groups[0]["lr"]) < 1e-9, (schedule, epoch)
            opt.step()
            sched.step()


def test_sgd_is_bit_identical_to_torch_optim_skips_missing_grads_and_resumes():
    from sparserobust.training import optim

    a, b, c = small(), small(), small()
    x = torch.rand(4, 3, 16, 16)
    ours = optim.SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    ref = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)  # single-tensor on the CPU
    for step in range(4):
        for net, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            net(x).square().mean().backward()
            if step == 1:
                net.fc.weight.grad = None  # skipped this step, momentum left as it is, as torch.optim does
            opt.step()
        if step == 1:  # the state after two steps, into a fresh optimiser of a third copy
            c.load_state_dict(a.state_dict())
            resumed = optim.SGD(c.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
            resumed.load_state_dict({**ours.state_dict(), "buffers": [t.clone() for t in ours.state_dict()["buffers"]]})
        elif step > 1:
            resumed.zero_grad()
            c(x).square().mean().backward()
            resumed.step()
    for (n, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q) and torch.equal(p, r), n
        assert torch.equal(ours.buffer_of(p), ref.state[q]["momentum_buffer"]), n


def test_sgd_does_not_import_dynamo():
    import subprocess
    import sys

    code = ("import sys, torch; from sparserobust.training import optim; p = torch.zeros(3, requires_grad=True); "
            "o = optim.SGD([p], lr=0.1, momentum=0.9); p.grad = torch.ones(3); o.step(); o.step(); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_apply_follows_every_change_of_the_mask():
    net = small()
    weights = {n: p.detach().clone() for n, p in net.named_parameters()}
    params = dict(net.named_parameters())

    def check(mask):
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(weights[n].to(p.dtype))
        masks.apply(net, mask)
        for n, m in mask.items():
            assert torch.equal(params[n], weights[n].to(params[n].dtype) * m), n  # as a multiply by the bool mask

    name = "layer2.0.conv1.weight"
    mask = pruning.prune("magnitude", dict(net.named_parameters()), masks.ones_like(net), fraction=0.5)
    check(mask)
    mask[name].view(-1)[:5] = ~mask[name].view(-1)[:5]  # written in place
    check(mask)
    mask[name] = torch.rand(mask[name].shape, generator=torch.Generator().manual_seed(1)) > 0.5  # replaced
    check(mask)
    check({n: m.clone() for n, m in mask.items()})  # another dict of equal masks
    check({name: mask[name]})  # fewer entries
    net.double()  # the parameters in another dtype
    params = dict(net.named_parameters())
    check(mask)
    assert params[name].dtype == torch.float64
    owner = net.get_submodule(name.rpartition(".")[0])
    owner.weight = nn.Parameter(torch.ones_like(owner.weight))  # a parameter object replaced on its module
    params = dict(net.named_parameters())
    check(mask)
