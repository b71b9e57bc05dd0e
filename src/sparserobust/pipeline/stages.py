"""The pipeline's stages, one function each; scripts/ only parse arguments and call these."""

import time

import torch

from ..data import arrays as data
from ..foundations import hparams, provenance
from ..lottery import masks, pruning
from ..models import pretrained as weights
from ..models import registry as models
from ..training import autoattack, checkpoint, engine, evaluate, precision, selection
from . import config


def source_splits(ds):
    if ds["kind"] == "imagefolder":
        from ..data import folders

        return folders.splits(ds)
    return data.load_splits(ds)


def pretrain_demo(spec, out, log):
    """Demo only: pre-train on the demo source task and save in the init's published layout."""
    torch.manual_seed(spec["seed"])
    ds = spec["source"]
    model = models.network(spec, spec["num_classes"], ds)
    hp = hparams.from_spec(spec, spec["train"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, best, state = engine.train(model, source_splits(ds), hp, device, spec["seed"], log=log,
                                        checkpoint=checkpoint.resume_path(out))
    model.load_state_dict(state)
    net_state = {k: v.cpu() for k, v in model.net.state_dict().items()}
    published = weights.as_published(net_state, spec["format"], ds["mean"], ds["std"])
    path = provenance.save_plain_torch(out, published)
    provenance.write_text(f"{out}.sha256", f"{provenance.sha256_of(path)}  {path.name}\n")
    provenance.write_json(f"{out}.json", {"history": history, "best": best,
                                          "provenance": provenance.record(spec, spec["seed"])})
    checkpoint.finished(out)


def fetch(spec, out, download_dir, log):
    key = f"pretrain.{spec['init']}"
    path, sha = weights.fetch(spec["entry"], key, download_dir)
    log(f"{key}: {path} sha256 {sha}")
    net = models.build(spec["arch"], spec["num_classes"])
    state = weights.convert(path, spec["entry"]["format"], net, key)
    weights.save_canonical(state, out, spec["entry"], sha, key)


def make_ticket(spec, weights_path, prev_path, out, log):
    """One IMP round (or the dense / random ticket): mask + statistics + provenance."""
    pre = weights.load_canonical(weights_path)
    ds = spec["source"]
    model = models.network(spec, spec["num_classes"], ds)
    model.net.load_state_dict(pre)
    k, pruner = spec["round"], spec["pruner"]
    mask = masks.ones_like(model.net)
    history = []
    if pruner == "random":
        gen = torch.Generator().manual_seed(spec["seed"] * 1000 + k)
        mask = pruning.prune_to_round("random", pre, mask, spec["prune_fraction"], k, gen)
    elif pruner == "omp":
        mask = pruning.prune_to_round("magnitude", pre, mask, spec["prune_fraction"], k)
    elif pruner in config.IMP_PRUNERS:
        mask = masks.load(prev_path)
        masks.check_compatible(model.net, mask, str(prev_path))
        state = pre
        if config.retrains(pruner, k):
            history, state = retrain(spec, model, pre, mask, log, checkpoint.resume_path(out))
        mask = pruning.prune("magnitude", state, mask, spec["prune_fraction"])
    elif pruner != "dense":
        raise ValueError(f"unknown pruner {pruner!r}")
    log(f"{pruner} round {k}: sparsity {masks.sparsity(mask):.4f}")
    prov = provenance.record(spec, spec["seed"], weights=str(weights_path), retrain_history=history)
    provenance.save_torch(out, masks.to_file(mask, prov))
    checkpoint.finished(out)


def retrain(spec, model, pre, mask, log, resume=None):
    """Rewind to the pre-trained weights under `mask`, then re-train on the source task."""
    model.net.load_state_dict(pruning.rewind(pre, mask))
    hp = hparams.from_spec(spec, spec["retrain"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, _, state = engine.train(model, source_splits(spec["source"]), hp, device,
                                     spec["seed"] + spec["round"], mask=mask, log=log, checkpoint=resume)
    model.load_state_dict(state)
    return history, {k: v.cpu() for k, v in model.net.state_dict().items()}


def ticket_model(spec, weights_path, ticket_path):
    """Pre-trained weights without the source head, a new seeded head, and the ticket's mask."""
    ds = spec["dataset"]
    model = models.network(spec, ds["num_classes"], ds)
    pre = weights.load_canonical(weights_path)
    result = model.net.load_state_dict({k: v for k, v in pre.items() if not k.startswith("fc.")}, strict=False)
    if set(result.missing_keys) != {"fc.weight", "fc.bias"} or result.unexpected_keys:
        raise ValueError(f"{weights_path}: does not fit model.arch {spec['arch']}: {result}")
    models.new_head(model.net, ds["num_classes"], spec["seed"])
    mask = masks.load(ticket_path)
    masks.check_compatible(model.net, mask, str(ticket_path))
    return model, mask


def downstream_splits(spec):
    return data.load_splits(spec["dataset"], spec.get("fraction", 1.0), spec.get("subset", "first"),
                            spec.get("subset_seed", 0))


def transfer(spec, weights_path, ticket_path, out, log, attack_source=None):
    """Mask + pre-trained weights + new head, trained downstream; test metrics of the selected model."""
    start = time.time()
    splits = downstream_splits(spec)
    model, mask = ticket_model(spec, weights_path, ticket_path)
    hp = hparams.from_spec(spec, spec["train"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    best_sa = selection.BestOf("val_sa") if hp.select == "ra" else None  # main_adv_eval.py keeps both
    history, best, state = engine.train(model, splits, hp, device, spec["seed"], mask=mask, log=log,
                                        checkpoint=checkpoint.resume_path(out), hooks=best_sa.hooks() if best_sa else None)
    model.load_state_dict(state)
    test_data = data.to_device(splits["test"], device)
    test = evaluate.report(model, test_data, device, hp, spec["seed"])  # fp32 unless engine.eval_precision
    if spec.get("transfer_attack") and attack_source:
        source = weights.load_trained(spec, attack_source, device)
        acc, loss = evaluate.accuracy(model, test_data, device, hp.eval_batch_size, hp.eval_view,
                                      hparams.attack(spec["transfer_attack"]), spec["seed"],
                                      precision.eval_autocast(device, hp), source)
        test.update(transfer_ra=100 * acc, transfer_ra_loss=loss)
    if spec.get("autoattack") and hp.eval_attack is not None:
        aa = autoattack.from_spec(spec["autoattack"], hp.eval_attack)
        got = autoattack.robust_accuracy(model, test_data, device, aa, spec["dataset"]["num_classes"], hp.eval_view,
                                         hp.eval_attack)  # and PGD on the same images
        test.update(aa=got["aa"], aa_pgd=got["pgd"], aa_images=min(aa.n or len(test_data), len(test_data)))
    also = best_sa.test(model, test_data, device, hp, spec["seed"], "best_sa") if best_sa else {}
    record = {"init": spec["init"], "pruner": spec["pruner"], "round": spec["round"],
              "sparsity": masks.sparsity(mask), "dataset": spec["dataset"]["key"],
              "data": spec.get("data", "full"), "n_train": len(splits["train"]),
              "subset": spec.get("subset", "first"), "regime": spec["regime"],
              "seed": spec["seed"], "best_epoch": best["epoch"] if best else 0,
              **{f"test_{k}": v for k, v in test.items()}, **also, "history": history,
              "seconds": time.time() - start, "device": str(device),
              "provenance": provenance.record(spec, spec["seed"], weights=str(weights_path),
                                              ticket=str(ticket_path), attack_source=attack_source)}
    provenance.write_json(out, record)
    checkpoint.finished(out)
    log(f"test: {test}" + (f"; best-SA checkpoint: {also}" if also else ""))


def train_attack_source(spec, out, log):
    """Table A2's source: a dense robust model trained from scratch on the downstream task."""
    ds = spec["dataset"]
    torch.manual_seed(spec["seed"])
    model = models.network(spec, ds["num_classes"], ds)
    hp = hparams.from_spec(spec, spec["train"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, best, state = engine.train(model, data.load_splits(ds), hp, device, spec["seed"], log=log,
                                        checkpoint=checkpoint.resume_path(out))
    provenance.save_torch(out, {"state_dict": {k: v.cpu() for k, v in state.items()}, "history": history,
                                "provenance": provenance.record(spec, spec["seed"])})
    checkpoint.finished(out)


def trajectory(spec, weights_path, ticket_path, out, log):
    """Re-run a transfer (same spec and seed) keeping a checkpoint every `checkpoint_every` epochs."""
    splits = downstream_splits(spec)
    model, mask = ticket_model(spec, weights_path, ticket_path)
    hp = hparams.from_spec(spec, spec["train"])
    device = engine.pick_device(spec["device"])
    masks.apply(model.net, mask)
    model = models.prepare(model, device)
    states = [{k: v.detach().cpu().clone() for k, v in model.state_dict().items()}]

    def keep(rec, model):
        if rec["epoch"] % spec["checkpoint_every"] == 0 or rec["epoch"] == hp.epochs:
            states.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    def set_states(saved):
        states[:] = saved

    history, _, _ = engine.train(model, splits, hp, device, spec["seed"], mask=mask, log=log,
                                 checkpoint=checkpoint.resume_path(out),
                                 hooks=engine.Hooks(on_epoch=keep, extra_state=(lambda: states, set_states)))
    provenance.save_torch(out, {"states": states, "mask": {n: m.cpu() for n, m in mask.items()}, "history": history,
                                "provenance": provenance.record(spec, spec["seed"])})
    checkpoint.finished(out)


def landscape(spec, trajectory_path, out, log):
    """Fig. 6 / A9 data: loss on a random filter-normalised plane and on the trajectory's PCA plane."""
    import pandas as pd

    from ..analysis import landscape as ls

    blob = provenance.load_torch(trajectory_path)
    states, mask = blob["states"], blob["mask"]
    ds = spec["dataset"]
    model = models.network(spec, ds["num_classes"], ds)
    model.load_state_dict(states[-1])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device).eval()
    test = data.load_splits(ds)["test"]
    test = data.to_device(test.take(slice(0, min(spec["test_size"], len(test)))), device)
    attack = hparams.attack(spec["attack"]) if spec["attack"] else None
    opts = spec.get("engine", {})
    kw = dict(view=hparams.augment(spec["eval_view"]), attack=attack, seed=spec["seed"],
              autocast=precision.eval_autocast_for(device, opts.get("precision", "auto"),
                                                   opts.get("eval_precision", "fp32")))
    gen = torch.Generator().manual_seed(spec["seed"])
    d1, d2 = ls.random_direction(model.net, mask, gen), ls.random_direction(model.net, mask, gen)
    axis, loss, acc = ls.grid(model, d1, d2, test, device, spec["span"], spec["resolution"], **kw)
    rows = _grid_rows("random", axis, loss, acc)
    names = ls.direction_names(model.net)
    net_states = [{k[len("net."):]: v for k, v in st.items() if k.startswith("net.")} for st in states]
    dirs, coords, ratio = ls.pca_directions(net_states, names)
    like = {n: p for n, p in model.net.named_parameters() if n in names}
    p1, p2 = ls.unflatten(dirs[0], like, names), ls.unflatten(dirs[1], like, names)
    span = 1.25 * float(coords.abs().max().clamp_min(1e-3))
    axis, loss, acc = ls.grid(model, p1, p2, test, device, span, spec["resolution"], **kw)
    rows += _grid_rows("pca", axis, loss, acc)
    rows += [{"plane": "trajectory", "alpha": float(c[0]), "beta": float(c[1]), "step": t,
              "explained": ratio[0] + (ratio[1] if len(ratio) > 1 else 0.0)} for t, c in enumerate(coords)]
    table = pd.DataFrame(rows).assign(init=spec["init"], surface=spec["surface"], study=spec.get("study", "fig6"))
    provenance.write_text(out, table.to_csv(index=False))
    log(f"landscape {spec['init']} {spec['surface']}: {spec['resolution']}x{spec['resolution']} grid, "
        f"PCA explains {100 * sum(ratio):.1f} %")


def _grid_rows(plane, axis, loss, acc):
    return [{"plane": plane, "alpha": float(a), "beta": float(b), "loss": float(loss[i, j]), "acc": float(acc[i, j])}
            for i, a in enumerate(axis) for j, b in enumerate(axis)]
