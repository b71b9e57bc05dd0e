# File naming and the job lists of each figure; every result of a config lives under config["results"].
AN = cfg_mod.analysis(config)
DATA_LABELS = cfg_mod.data_labels(config)[1:]  # the data-limited ones (after "full")
DATA_LIMITED_REGIMES = cfg_mod.data_limited_regimes(config)
STUDIES = cfg_mod.STUDIES


def ticket_file(init, pruner, k):
    return f"{R}/tickets/{init}/{pruner}/round{k}.pt"


def transfer_file(init, pruner, k, dataset, data, regime, seed):
    return f"{R}/transfer/{init}/{pruner}/round{k}/{dataset}/{data}/{regime}/seed{seed}.json"


def runs(tickets, datasets, datas, regimes=REGIMES):
    return [
        transfer_file(init, pruner, k, ds, data, regime, seed)
        for init, pruner, k in tickets
        for ds in datasets
        for data in datas
        for regime in regimes
        for seed in SEEDS
    ]


def fig3_tickets():
    """Dense, IMP per pre-training and random pruning."""
    tickets = [(init, "dense", 0) for init in INITS]
    tickets += [(init, "imp_st", k) for init in INITS for k in ROUNDS]
    tickets += [
        (init, "random", k)
        for init in config["random_pruning"]["pretrain"]
        for k in ROUNDS
    ]
    return tickets


def fig4_tickets():
    """One pre-training (adversarial): IMP-ST, IMP-AT, OMP and random pruning against dense."""
    init = AN["fig4"]["init"]
    return [(init, "dense", 0)] + [
        (init, p, k) for p in ("imp_st", "imp_at", "omp", "random") for k in ROUNDS
    ]


def fig5_tickets():
    """The IMP tickets of every pre-training."""
    return [(init, "dense", 0) for init in INITS] + [
        (init, "imp_st", k) for init in INITS for k in ROUNDS
    ]


def figA10_tickets():
    """Every pre-training's tickets at Fig. A10's rounds: round 0 the dense model, the others IMP-ST."""
    return [
        (init, "imp_st" if k else "dense", k)
        for init in INITS
        for k in AN["figA10"]["rounds"]
    ]


def segmentation_file(init, pruner, k, dataset, seed):
    return f"{R}/segmentation/{init}/{pruner}/round{k}/{dataset}/seed{seed}.json"


def figA10_runs(wildcards=None):
    """CUB-200 / VisDA-2017 transfers in figA10.regimes and the VOC segmentation jobs."""
    a10 = AN["figA10"]
    files = runs(figA10_tickets(), a10["datasets"], ["full"], a10["regimes"])
    if a10["segmentation"]:
        files += [
            segmentation_file(init, pruner, k, a10["segmentation"], seed)
            for init, pruner, k in figA10_tickets()
            for seed in SEEDS
        ]
    return files


def study_ticket(name):
    return jobs.study(config, name)[:2]


def study_dataset(name):
    return jobs.study(config, name)[2]


def fig3_runs(wildcards=None):
    """Fig. 3's tickets on full data of every transfer dataset."""
    return runs(fig3_tickets(), config["transfer"]["datasets"], ["full"])


def fig4_runs(wildcards=None):
    return runs(fig4_tickets(), AN["fig4"]["datasets"], ["full"])


def fig5_runs(wildcards=None):
    """Data-limited transfer of the IMP tickets, in transfer.data_limited_regimes only
    (default adversarial: --data_number of main_adv_eval.py, main_adv_eval_svhn.py)."""
    return runs(
        fig5_tickets(), AN["fig5"]["datasets"], DATA_LABELS, DATA_LIMITED_REGIMES
    )


def imp_tickets(wildcards=None):
    return [ticket_file(init, "imp_st", k) for init in INITS for k in ROUNDS]


def fig7_tickets(wildcards=None):
    """Every pre-training's IMP ticket at Fig. 7's common round."""
    return [ticket_file(init, "imp_st", AN["fig7"]["round"]) for init in INITS]


def all_tickets(wildcards=None):
    """Every ticket of this config: those the figures use, and the IMP rounds that lead to them."""
    keys = set(fig3_tickets() + fig4_tickets() + fig5_tickets())
    keys |= {(init, *study_ticket(s)) for init in INITS for s in STUDIES}
    keys |= set(figA10_tickets()) if appendix.has_figA10(config) else set()
    files = set(imp_tickets())
    for init, pruner, k in keys:
        imp = pruner in cfg_mod.IMP_PRUNERS
        files |= {
            ticket_file(init, pruner, j) for j in (range(1, k + 1) if imp else [k])
        }
        files |= {ticket_file(init, "dense", 0)} if imp else set()
    return sorted(files)


def landscape_files(surface, studies=("fig6",)):
    return [
        f"{R}/landscape/{study}/{init}/{surface}.csv"
        for study in studies
        for init in INITS
    ]


SWT_SPARSE = r"(robust_bird|flying_bird|flying_bird_plus)(-kd_swa)?|dense-kd_swa"


def swt_runs(wildcards=None):
    sw = config.get("swt")
    if not sw:
        return []
    return [
        f"{R}/swt/{arch}/{ds}/{method}/seed{seed}.json"
        for arch in sw["archs"]
        for ds in sw["datasets"]
        for method in sw["methods"]
        for seed in sw["seeds"]
    ]


def swt_teacher(wildcards):
    """Distillation + SWA runs learn from two teachers of the same architecture, dataset and seed,
    in the order of jobs.TEACHERS: the standard run (best SA) and the dense adversarial run (best RA).
    """
    if wildcards.method.endswith("-kd_swa"):
        return [
            f"{R}/swt/{wildcards.arch}/{wildcards.dataset}/{name}/seed{wildcards.seed}.pt"
            for name in (jobs.TEACHER_RUNS[t] for t in jobs.TEACHERS)
        ]
    return []


def manifest(name):
    """The prepare_dataset output a training job takes as input (the data is there and verified).
    ancient(): a manifest written again (download switched off, checksums re-checked) does not
    rerun the training jobs; the dataset's settings that matter are in each job's own spec.
    """
    return ancient(f"{R}/data/{name}.json")


def source_manifest(wildcards):
    """The source task's manifest, for tickets that re-train (and the demo's pre-training)."""
    if "round" in wildcards.keys() and not retrains(wildcards):
        return []
    return [manifest(config["source"]["dataset"])]


def weights_sources(wildcards):
    """What fetch_weights reads from disk, so that a changed file or checksum list refetches:
    the demo's own pre-trained file, a local path or file: URL, and a sha256_file."""
    entry = config["pretrain"][wildcards.init]
    if "train" in entry:
        return [jobs.pretrained_file(config, wildcards.init)]
    local = entry.get("path") or (entry.get("url") or "").removeprefix(
        "file://"
    ).removeprefix("file:")
    files = (
        [local]
        if local and not (entry.get("url") or "").startswith(("http:", "https:"))
        else []
    )
    return files + ([entry["sha256_file"]] if entry.get("sha256_file") else [])


def previous_ticket(wildcards):
    k = int(wildcards.round)
    if wildcards.pruner not in cfg_mod.IMP_PRUNERS:
        return []
    return (
        ticket_file(wildcards.init, "dense", 0)
        if k == 1
        else ticket_file(wildcards.init, wildcards.pruner, k - 1)
    )


def attack_source_of(wildcards):
    """Adversarial transfers on Table A2's datasets are also evaluated under the transfer attack."""
    if (
        wildcards.regime == "adversarial"
        and wildcards.dataset in AN["table_a2"]["datasets"]
    ):
        return [f"{R}/attack_source/{wildcards.dataset}.pt"]
    return []


GPU_RULES = cfg_mod.GPU_RULES
RETRIES = config.get("retries", 2)


def res(name):
    """A rule's resources from config["resources"]: GPU rules ask for one GPU on one node unless told
    otherwise. Tickets that need no re-training (dense, random, OMP, IMP round 1) ask for one GPU,
    briefly. `gpu_request` repeats the GPU request: `--resources gpu=N` caps `gpu` locally, not it.
    GPU rules run `scripts/launch.py --gpus {resources.gpu}`: it gives the job its own GPUs
    (CUDA_VISIBLE_DEVICES; SLURM's allocation on a cluster) and starts python, or torchrun (DDP)
    over several; `--batch-split {resources.gpu_request}` keeps the global batch when capped.
    """
    out = {"gpu": 1, "nodes": 1} if name in GPU_RULES else {}
    out.update(
        config.get("resources", {}).get(name, {})
    )  # every job runs on one node (torchrun --standalone)
    if (
        name in GPU_RULES
    ):  # the request before any local cap: a job given fewer GPUs accumulates gradients
        out["gpu_request"] = out["gpu"]
    if name == "ticket":
        light = {
            "gpu": 1,
            "gpu_request": 1,
            "cpus_per_gpu": 2,
            "mem_mb": 16000,
            "runtime": 60,
        }
        return {
            k: (lambda w, v=v, k=k: v if retrains(w) else light.get(k, v))
            for k, v in out.items()
        }
    return out


def retrains(wildcards):
    return cfg_mod.retrains(wildcards.pruner, wildcards.round)


def flag(option, key):
    """A params function: `option PATH` when the optional input `key` is there, else nothing."""
    return lambda w, input: f"{option} {input[key]}" if input[key] else ""
