"""The pipeline's stages, one function each; scripts/ only parse arguments and call these."""

import time

import torch

from . import data, engine, hparams, masks, models, provenance, pruning, weights


def network(spec, num_classes, ds):
    net = models.build(spec["arch"], num_classes)
    return models.Normalized(net, ds["mean"], ds["std"])


def source_splits(ds):
    if ds["kind"] == "imagefolder":
        from . import folders

        return folders.splits(ds)
    return data.load_splits(ds)


def pretrain_demo(spec, out, log):
    """Demo only: pre-train on the demo source task and save in the init's published layout."""
    torch.manual_seed(spec["seed"])
    ds = spec["source"]
    model = network(spec, spec["num_classes"], ds)
    hp = hparams.train(spec["train"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, best, state = engine.train(model, source_splits(ds), hp, device, spec["seed"], log=log)
    model.load_state_dict(state)
    net_state = {k: v.cpu() for k, v in model.net.state_dict().items()}
    path = provenance.save_torch(out, weights.as_published(net_state, spec["format"], ds["mean"], ds["std"]))
    provenance.write_text(f"{out}.sha256", f"{weights.sha256_of(path)}  {path.name}\n")
    provenance.write_json(f"{out}.json", {"history": history, "best": best,
                                          "provenance": provenance.record(spec, spec["seed"])})


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
    model = network(spec, spec["num_classes"], ds)
    model.net.load_state_dict(pre)
    k, pruner = spec["round"], spec["pruner"]
    mask = masks.ones_like(model.net)
    history = []
    if pruner == "random":
        gen = torch.Generator().manual_seed(spec["seed"] * 1000 + k)
        mask = pruning.prune_to_round("random", pre, mask, spec["prune_fraction"], k, gen)
    elif pruner == "imp_st":
        mask = masks.load(prev_path)
        masks.check_compatible(model.net, mask, str(prev_path))
        state = pre
        if k > 1:
            history, state = retrain(spec, model, pre, mask, log)
        mask = pruning.prune("magnitude", state, mask, spec["prune_fraction"])
    elif pruner != "dense":
        raise ValueError(f"unknown pruner {pruner!r}")
    log(f"{pruner} round {k}: sparsity {masks.sparsity(mask):.4f}")
    prov = provenance.record(spec, spec["seed"], weights=str(weights_path), retrain_history=history)
    provenance.save_torch(out, masks.to_file(mask, prov))


def retrain(spec, model, pre, mask, log):
    """Rewind to the pre-trained weights under `mask`, then re-train on the source task."""
    model.net.load_state_dict(pruning.rewind(pre, mask))
    hp = hparams.train(spec["retrain"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, _, state = engine.train(model, source_splits(spec["source"]), hp, device,
                                     spec["seed"] + spec["round"], mask=mask, log=log)
    model.load_state_dict(state)
    return history, {k: v.cpu() for k, v in model.net.state_dict().items()}


def transfer(spec, weights_path, ticket_path, out, log):
    """Mask + pre-trained weights + new head, trained downstream; test metrics of the selected model."""
    start = time.time()
    ds = spec["dataset"]
    splits = data.load_splits(ds)
    model = network(spec, spec["dataset"]["num_classes"], ds)
    pre = weights.load_canonical(weights_path)
    result = model.net.load_state_dict({k: v for k, v in pre.items() if not k.startswith("fc.")}, strict=False)
    if set(result.missing_keys) != {"fc.weight", "fc.bias"} or result.unexpected_keys:
        raise ValueError(f"{weights_path}: does not fit model.arch {spec['arch']}: {result}")
    models.new_head(model.net, ds["num_classes"], spec["seed"])
    mask = masks.load(ticket_path)
    masks.check_compatible(model.net, mask, str(ticket_path))
    hp = hparams.train(spec["train"])
    device = engine.pick_device(spec["device"])
    model = models.prepare(model, device)
    history, best, state = engine.train(model, splits, hp, device, spec["seed"], mask=mask, log=log)
    model.load_state_dict(state)
    test = engine.evaluate.report(model, data.to_device(splits["test"], device), device, hp,
                                  engine.autocast_for(device), spec["seed"])
    record = {"init": spec["init"], "pruner": spec["pruner"], "round": spec["round"],
              "sparsity": masks.sparsity(mask), "dataset": ds["key"], "regime": spec["regime"],
              "seed": spec["seed"], "best_epoch": best["epoch"] if best else 0,
              **{f"test_{k}": v for k, v in test.items()}, "history": history,
              "seconds": time.time() - start, "device": str(device),
              "provenance": provenance.record(spec, spec["seed"], weights=str(weights_path),
                                              ticket=str(ticket_path))}
    provenance.write_json(out, record)
    log(f"test: {test}")
