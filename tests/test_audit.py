"""The audit finds a table that disagrees with its inputs: each check passes on the table the pipeline
makes and fails on one changed the way a bug would change it."""

import pandas as pd
import pytest
import torch

from sparserobust.analysis import audit, learned, metrics

KEYS = dict(init="standard", dataset="cifar10", data="full")


def runs():
    """Two seeds of the dense model and of IMP rounds 1 (matching in every panel) and 2 (AT-RA too low)."""
    rows = []
    for seed, d in enumerate((0.0, 2.0)):
        rows += [dict(KEYS, pruner="dense", round=0, sparsity=0.0, regime="standard", seed=seed, test_sa=80 + d),
                 dict(KEYS, pruner="dense", round=0, sparsity=0.0, regime="adversarial", seed=seed, test_sa=70 + d,
                      test_ra=40 + d)]
        for k, sp, ra in ((1, 0.2, 41.0), (2, 0.36, 35.0)):
            rows += [dict(KEYS, pruner="imp_st", round=k, sparsity=sp, regime="standard", seed=seed, test_sa=81.0),
                     dict(KEYS, pruner="imp_st", round=k, sparsity=sp, regime="adversarial", seed=seed, test_sa=71.0,
                          test_ra=ra)]
    table = pd.DataFrame(rows)
    return table.assign(file=[f"run{i}.json" for i in range(len(table))])


def verdict_table(table):
    return metrics.extreme(metrics.double_win(metrics.matching(table)))


def test_double_win_verdicts_made_by_the_pipeline_pass_and_changed_ones_fail():
    table = runs()
    made = verdict_table(table)
    assert [r["ok"] for r in audit.verdicts(table, made)] == [True]
    assert made["matching_rounds"].iloc[0] == "1"  # round 2's AT-RA 35 < 41 - 1.41
    for change in ({"matching_rounds": "1 2"}, {"extreme_sparsity": 36.0}, {"panels": "AT-SA AT-RA"}):
        assert [r["ok"] for r in audit.verdicts(table, made.assign(**change))] == [False], change
    # a pipeline that ignored AT-RA would call round 2 matching too: the audit, recomputing, disagrees
    ignores_ra = verdict_table(table.assign(test_ra=41.0))
    assert [r["ok"] for r in audit.verdicts(table, ignores_ra)] == [False]


def test_zero_kernels_and_similarity_are_counted_from_the_masks():
    a = torch.ones(4, 2, 3, 3, dtype=torch.bool)
    a[0, 1] = False  # one all-zero kernel
    a[1, 0, 0, 0] = False  # a kernel with one zero: not all-zero
    b = torch.ones_like(a)
    b[:2] = False
    masks = {("standard", 2): {"conv.weight": a}, ("adversarial", 2): {"conv.weight": b}}

    def tickets(init, k):
        return masks[(init, k)]

    kernels = pd.DataFrame([dict(init="standard", round=2, layer="conv.weight", kernels=8, zero_kernels=1)])
    assert [r["ok"] for r in audit.zero_kernels(kernels, tickets)] == [True]
    assert [r["ok"] for r in audit.zero_kernels(kernels.assign(zero_kernels=2), tickets)] == [False]
    inter, union = int((a & b).sum()), int((a | b).sum())
    assert (inter, union) == (36, 72 - 9 - 1)  # b lies inside a
    sim = pd.DataFrame([dict(init_a="standard", init_b="adversarial", round=2, similarity=inter / union)])
    assert [r["ok"] for r in audit.similarity(sim, tickets)] == [True]
    assert [r["ok"] for r in audit.similarity(sim.assign(similarity=inter / 72), tickets)] == [False]


def test_accuracy_checks_fail_below_chance_and_on_a_transfer_attack_stronger_than_white_box():
    chance = {"cifar10": 10.0}
    good = runs().assign(test_transfer_ra=60.0)
    assert all(r["ok"] for r in learned.transfers(good, chance))
    low = good.copy()
    low.loc[0, "test_sa"] = 14.0  # below 1.5 x chance
    assert [r["subject"] for r in learned.transfers(low, chance) if not r["ok"]] == [
        "standard dense round 0 cifar10 full standard seed 0"]
    assert not all(r["ok"] for r in learned.transfers(good.assign(test_transfer_ra=30.0), chance))
    assert not all(r["ok"] for r in learned.transfers(good.assign(test_ra=good["test_sa"]), chance))  # no bite
    weak = good.copy()
    weak.loc[weak["regime"] == "adversarial", "test_ra"] = 2.0  # PGD breaks every model: no robustness
    assert [r["check"] for r in learned.transfers(weak.assign(test_transfer_ra=30.0), chance) if not r["ok"]] == [
        "adversarial training is robust"]
    one = good.copy()
    one.loc[one["regime"] == "adversarial", "test_ra"] = [40.0, 41.0, 8.0, 42.0, 40.0, 35.0]  # one ticket at chance
    assert all(r["ok"] for r in learned.transfers(one, chance))


def test_sparse_training_checks_and_flying_birds_density():
    main = pd.DataFrame([dict(arch="resnet18", dataset="cifar10", method=m, density_target=0.2, final_density=fd,
                              best_test_sa=80.0, final_test_sa=78.0, best_test_ra=50.0, final_test_ra=45.0)
                         for m, fd in (("flying_bird", 0.2), ("flying_bird_plus", 0.17))])
    chance = {"cifar10": 10.0}
    assert all(r["ok"] for r in audit.flying_bird_density(main) + learned.sparse_training(main, chance))
    drifted = main.assign(final_density=0.2003)  # as the demo's Bernoulli regrowth drifts
    assert not all(r["ok"] for r in audit.flying_bird_density(drifted))
    assert all(r["ok"] for r in audit.flying_bird_density(drifted, exact=False))
    assert not all(r["ok"] for r in audit.flying_bird_density(main.assign(final_density=0.21), exact=False))
    assert not all(r["ok"] for r in learned.sparse_training(drifted.assign(final_density=0.2), chance))  # FB+ idle
    assert not all(r["ok"] for r in learned.sparse_training(main.assign(final_test_ra=75.0), chance))


def test_a_failed_audit_names_each_failure_and_writes_nothing(tmp_path):
    table = runs()
    made = verdict_table(table).assign(matching_rounds="2")
    checks = audit.run({"fig3": table, "table_doublewin": made}, tmp_path, True, {"cifar10": 10.0})
    out = tmp_path / "audit.csv"
    with pytest.raises(ValueError, match=r"1 of \d+ audit checks failed:\n  double-win verdict: standard imp_st"):
        audit.write(checks, out)
    assert not out.exists()
    audit.write(checks[checks["ok"]], out)
    assert pd.read_csv(out)["ok"].all()
