"""Whole Sparsity Winning Twice runs on a tiny task (a 4-8-8 SmallResNet, 8 px images of 4 classes, 64 training
images in 4 batches an epoch, 4 epochs): Robust Bird's ticket epoch, the training FLOPs each method reports, the
masked SWA average it reports, and resume after SIGKILL or SIGTERM for every kind of state the sparse methods
keep (Flying Bird's mask and generator, Flying Bird+'s windows, SWA's running average, Robust Bird's stage-1
masks). The runs use one thread, so that a run and its resumed copy compute bit for bit alike."""

import contextlib
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
import torch
import yaml

from sparserobust.foundations import provenance
from sparserobust.models import flops
from sparserobust.models import registry as models
from sparserobust.pipeline import jobs
from sparserobust.sparse import dynamic, swt
from sparserobust.sparse.swa import SWA
from sparserobust.training import engine

from conftest import ROOT

ARCH, SHAPE, CLASSES = "small_resnet:4-8-8", (3, 8, 8), 4
EPOCHS, IMAGES, ATTACK_STEPS = 4, 64, 1  # stage 2 / Flying Bird: 4 optimiser steps an epoch
STAGE1_IMAGES = 48  # Robust Bird's stage 1: 3 steps of 16 an epoch (steps_per_epoch)
TICKET_EPOCH = 4  # stage 1 learns at lr 0.1 for 2 epochs, then at 0 (gamma 0): masks of epochs 2-4 are equal


def tiny_spec(method):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg.pop("autoattack")
    cfg["engine"]["checkpoint_minutes"] = 0  # a save after every epoch
    cfg["datasets"]["demo_swt_a"].update(train_size=IMAGES, val_size=32, test_size=32, image_size=8,
                                         num_classes=CLASSES, noise=0.1)
    sw = cfg["swt"]
    augment = {"kind": "crop_flip", "pad": 1}
    sw["train"].update(epochs=EPOCHS, lr=0.1, batch_size=16, milestones=[3], augment=augment,
                       train_attack={"eps": 4, "step": 2, "steps": ATTACK_STEPS, "model_mode": "train"},
                       eval_attack={"eps": 4, "step": 2, "steps": 2, "model_mode": "eval"})
    sw["flying_bird"].update(update_every=2, update_schedule=[[2, 3]])  # steps 2, 4, 6, 8, then 9, 12, 15
    sw["flying_bird_plus"].update(start_epoch=1, window=2)
    sw["robust_bird"].update(window=3, threshold=0.0, stage2_milestones=[3],
                             stage1={"epochs": 6, "lr": 0.1, "batch_size": 16, "steps_per_epoch": 3,
                                     "schedule": "step", "milestones": [2], "gamma": 0.0, "select": "last",
                                     "augment": augment})
    spec = jobs.swt(cfg, ARCH, "demo_swt_a", method, 0)
    spec["device"] = "cpu"
    if method == "flying_bird_plus":
        spec["swa"] = {"start": 1, "every": 1}  # SWA without teachers: the average's state resumes too
    return spec


def clone(tensors):
    return {k: v.detach().clone() for k, v in tensors.items()}


@contextlib.contextmanager
def one_thread():
    threads, handler = torch.get_num_threads(), signal.getsignal(signal.SIGTERM)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        signal.signal(signal.SIGTERM, handler)  # the run's checkpointer took SIGTERM over


def observed_run(spec, out, patches=()):
    """Run `spec` in this process, watched from outside: Flying Bird's mask at every epoch end, Robust Bird's
    ticket mask, each SWA evaluation (the raw average, the mask given, the state returned), the student's final
    weights and the final state. Returns (record without timings, model_out state, what was seen)."""
    seen = {"masks": {}, "ticket": None, "swa": [], "student": None, "final": None}
    after_epoch, robust_bird, evaluated, final_metrics = (dynamic.FlyingBird.after_epoch, swt._robust_bird,
                                                          SWA.evaluated, swt._final_metrics)

    def fb_after_epoch(self, rec):
        seen["masks"][rec["epoch"]] = clone(self.mask)
        return after_epoch(self, rec)

    def rb(*args):
        mask, info = robust_bird(*args)
        seen["ticket"] = clone(mask)
        return mask, info

    def swa_evaluated(self, train, hp, device, mask=None, seed=0):
        raw = clone(self.avg.module.state_dict())
        got = evaluated(self, train, hp, device, mask, seed)
        seen["swa"].append((raw, clone(mask), clone(got.state_dict())))
        return got

    def final(spec, model, splits, device, hp, best_state, final_state):
        seen["student"], seen["final"] = clone(model.state_dict()), clone(final_state)
        return final_metrics(spec, model, splits, device, hp, best_state, final_state)

    model_out = Path(f"{out}.model.pt")
    with one_thread(), pytest.MonkeyPatch.context() as mp:
        for target, name, value in ((dynamic.FlyingBird, "after_epoch", fb_after_epoch), (swt, "_robust_bird", rb),
                                    (SWA, "evaluated", swa_evaluated), (swt, "_final_metrics", final), *patches):
            mp.setattr(target, name, value)
        swt.run(spec, str(out), lambda msg: None, (), str(model_out))
    rec = json.loads(Path(out).read_text())
    rec.pop("seconds")
    for h in rec["history"]:
        h.pop("seconds")
    return rec, provenance.load_torch(model_out)["state_dict"], seen


def _run_and_kill(spec, out, step):
    """In a child process: run `spec`, killing this process with SIGKILL right after its `step`-th optimiser step."""
    torch.set_num_threads(1)
    train_epoch, count = engine.train_epoch, [0]

    def counting(model, train, ctx, resume=None, on_step=None):
        def after(i, sums):
            on_step(i, sums)
            count[0] += 1
            if count[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)

        return train_epoch(model, train, ctx, resume, after)

    engine.train_epoch = counting
    swt.run(spec, str(out), lambda msg: None, (), f"{out}.model.pt")


def killed_at_step(spec, out, step):
    """Run `spec` in a child process that kills itself with SIGKILL right after its `step`-th optimiser step: no
    handler runs, nothing is saved on the way out. The child is a fork of this process (no second start of Python
    and torch), or, once this process holds CUDA (a forked CUDA state is unusable), of a fork server that imports
    torch once."""
    if torch.cuda.is_initialized():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torch._dynamo", "sparserobust.sparse.swa", "sparserobust.sparse.swt",
                                    "test_sparse_runs"])  # torch._dynamo: the FLOPs counter's
    else:
        ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_run_and_kill, args=(spec, out, step))
    proc.start()
    proc.join(300)
    assert proc.exitcode == -signal.SIGKILL, f"the run was not killed at step {step} (exit code {proc.exitcode})"
    assert not Path(out).exists()


def assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def flying_bird_plus(tmp_path_factory):
    return observed_run(tiny_spec("flying_bird_plus"), tmp_path_factory.mktemp("fbp") / "whole.json")


@pytest.fixture(scope="module")
def robust_bird(tmp_path_factory):
    return observed_run(tiny_spec("robust_bird"), tmp_path_factory.mktemp("rb") / "whole.json")


def sparse_flops(layer_flops, total, mask):
    """Inference FLOPs of one image by hand: the dense total with each masked layer's FLOPs times its density."""
    return total - sum(layer_flops[n] for n in mask) + sum(layer_flops[n] * float(m.sum()) / m.numel()
                                                           for n, m in mask.items())


def global_density(mask):
    return sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())


def test_robust_bird_takes_its_ticket_at_the_epoch_its_masks_stop_changing(robust_bird):
    """Stage 1 trains at lr 0.1 for 2 epochs, then at 0: with window 3 and threshold 0, the masks of epochs 2, 3
    and 4 are the first three equal ones (epochs 1 and 2 differ, or it would stop at 3), so stage 1 stops at 4."""
    rec, _, seen = robust_bird
    assert rec["ticket_epoch"] == TICKET_EPOCH and rec["stage1_epochs"] == TICKET_EPOCH
    assert len(rec["history"]) == EPOCHS
    total = sum(m.numel() for m in seen["ticket"].values())
    assert rec["final_density"] == round(0.2 * total) / total == global_density(seen["ticket"])


def test_robust_bird_training_flops_are_its_clean_dense_stage1_plus_its_sparse_adversarial_stage2(robust_bird):
    rec, _, seen = robust_bird
    layer_flops, total = flops.dense_layer_flops(models.build(ARCH, CLASSES), SHAPE)
    sparse = sparse_flops(layer_flops, total, seen["ticket"])
    stage1 = TICKET_EPOCH * STAGE1_IMAGES * 1 * 3 * total  # clean: one forward and backward pass an image
    passes = EPOCHS * IMAGES * (ATTACK_STEPS + 1) * 3  # adversarial: the attack's passes and the training pass
    g = global_density(seen["ticket"])
    assert rec["train_flops"] == pytest.approx(stage1 + passes * sparse, rel=1e-9)
    assert rec["train_flops_global"] == pytest.approx(stage1 + passes * total * g, rel=1e-9)
    assert rec["dense_train_flops"] == passes * total
    assert rec["inference_flops"] == pytest.approx(sparse, rel=1e-9)
    assert rec["inference_flops_global"] == pytest.approx(total * g, rel=1e-9)


def test_flying_bird_plus_training_flops_sum_every_epochs_own_mask(flying_bird_plus):
    rec, _, seen = flying_bird_plus
    layer_flops, total = flops.dense_layer_flops(models.build(ARCH, CLASSES), SHAPE)
    masks = [seen["masks"][e] for e in range(1, EPOCHS + 1)]
    assert len({global_density(m) for m in masks}) > 1  # the density moves from epoch to epoch
    assert [h["density"] for h in rec["history"]] == [global_density(m) for m in masks]
    passes = IMAGES * (ATTACK_STEPS + 1) * 3
    assert rec["train_flops"] == pytest.approx(sum(passes * sparse_flops(layer_flops, total, m) for m in masks),
                                               rel=1e-9)
    assert rec["train_flops_global"] == pytest.approx(sum(passes * total * global_density(m) for m in masks),
                                                      rel=1e-9)
    assert rec["inference_flops"] == pytest.approx(sparse_flops(layer_flops, total, masks[-1]), rel=1e-9)


def test_an_swa_run_reports_the_average_under_its_epochs_mask(flying_bird_plus):
    """The raw average of dense-updated, moving-mask states is nonzero at pruned positions; the reported models
    (the best epoch's, written to model_out, and the final one) are the average with that epoch's mask on."""
    rec, best_state, seen = flying_bird_plus
    assert len(seen["swa"]) == EPOCHS + 1  # one evaluation an epoch from epoch 1, and the final one
    leaked = 0
    for epoch, (raw, mask, state) in enumerate(seen["swa"], 1):
        assert_same_tensors(mask, seen["masks"][min(epoch, EPOCHS)])
        for n, m in mask.items():
            leaked += int((raw[f"net.{n}"][~m] != 0).sum())
            assert (state[f"net.{n}"][~m] == 0).all(), (epoch, n)
    assert leaked > 0
    assert rec["best_epoch"] == max(rec["history"], key=lambda h: h["swa_val_ra"])["epoch"]
    assert_same_tensors(best_state, seen["swa"][rec["best_epoch"] - 1][2])
    assert_same_tensors(seen["final"], seen["swa"][-1][2])


def test_flying_bird_plus_swa_killed_mid_epoch_resumes_to_the_same_record_weights_and_masks(flying_bird_plus,
                                                                                             tmp_path):
    """SIGKILL at step 10, inside epoch 3 after the update at step 9 (drawn with the generator, sized by the
    adaptive windows of epochs 1 and 2, which act there), the SWA average holding epochs 1 and 2: the rerun
    starts from the save after epoch 2 and must end as the uninterrupted run did."""
    whole, whole_best, whole_seen = flying_bird_plus
    acted = [e for e in whole["density_log"] if e["epoch"] == 3 and (e["extra_prune"] > 0 or e["grow_factor"] > 1)]
    assert acted  # Flying Bird+'s windows matter after the kill
    spec, out = tiny_spec("flying_bird_plus"), tmp_path / "parts.json"
    killed_at_step(spec, out, 10)
    saved = provenance.load_torch(f"{out}.resume")
    assert saved["epoch"] == 2 and saved["extra"]["sparsifier"]["adaptive"]["gaps"]
    rec, best, seen = observed_run(spec, out)
    assert rec == whole
    assert_same_tensors(best, whole_best)
    assert_same_tensors(seen["student"], whole_seen["student"])
    assert_same_tensors(seen["final"], whole_seen["final"])
    assert sorted(seen["masks"]) == [3, 4]
    for epoch in (3, 4):
        assert_same_tensors(seen["masks"][epoch], whole_seen["masks"][epoch])


def test_flying_bird_plus_swa_preempted_mid_epoch_resumes_to_the_same_record(flying_bird_plus, tmp_path):
    """SIGTERM at step 9 (an update step): the state is saved after that step, inside epoch 3, and resumed there."""
    whole, whole_best, _ = flying_bird_plus
    spec, out = tiny_spec("flying_bird_plus"), tmp_path / "parts.json"
    after_step = dynamic.FlyingBird.after_step

    def preempting(self, step, opt):
        if step == 9:
            os.kill(os.getpid(), signal.SIGTERM)
        return after_step(self, step, opt)

    with pytest.raises(SystemExit) as stop:
        observed_run(spec, out, [(dynamic.FlyingBird, "after_step", preempting)])
    assert stop.value.code == 143 and not out.exists()
    saved = provenance.load_torch(f"{out}.resume")
    assert (saved["epoch"], saved["batch"]) == (2, 1)
    rec, best, _ = observed_run(spec, out)
    assert rec == whole
    assert_same_tensors(best, whole_best)


def test_robust_bird_killed_in_stage_1_and_again_in_stage_2_resumes_to_the_same_ticket_and_record(robust_bird,
                                                                                                  tmp_path):
    """First SIGKILL at step 8 (inside stage-1 epoch 3; the early-ticket window holds the masks of epochs 1 and 2:
    lost, the ticket would come at epoch 5); the rerun finishes stage 1 (steps 1-6), stops at the ticket, and is
    killed at step 12 (inside stage-2 epoch 2); the last rerun takes stage 1's end from its saved state."""
    whole, whole_best, whole_seen = robust_bird
    spec, out = tiny_spec("robust_bird"), tmp_path / "parts.json"
    stage1 = Path(f"{out}.stage1.resume")
    killed_at_step(spec, out, 8)
    saved = provenance.load_torch(stage1)
    assert saved["epoch"] == 2 and len(saved["extra"]["masks"]) == 2 and not Path(f"{out}.resume").exists()
    killed_at_step(spec, out, 12)
    saved = provenance.load_torch(stage1)
    assert saved["epoch"] == TICKET_EPOCH and saved["extra"]["stop"] and saved["extra"]["found_epoch"] == TICKET_EPOCH
    assert provenance.load_torch(f"{out}.resume")["epoch"] == 1
    rec, best, seen = observed_run(spec, out)
    assert rec == whole
    assert_same_tensors(seen["ticket"], whole_seen["ticket"])
    assert_same_tensors(best, whole_best)
    assert_same_tensors(seen["student"], whole_seen["student"])
    assert not stage1.exists() and not Path(f"{out}.resume").exists()
