# File naming shared by the rules: every result of a config lives under config["results"].


def weights_file(init):
    return f"{R}/weights/{init}.pt"


def ticket_file(init, pruner, k):
    return f"{R}/tickets/{init}/{pruner}/round{k}.pt"


def transfer_file(init, pruner, k, dataset, regime, seed):
    return f"{R}/transfer/{init}/{pruner}/round{k}/{dataset}/{regime}/seed{seed}.json"


def tickets_of_fig3():
    """(init, pruner, round) of Figure 3: dense, IMP per pre-training, random pruning."""
    out = [(init, "dense", 0) for init in INITS]
    out += [(init, "imp_st", k) for init in INITS for k in ROUNDS]
    out += [(init, "random", k) for init in config["random_pruning"]["pretrain"] for k in ROUNDS]
    return out


def fig3_runs(wildcards=None):
    return [
        transfer_file(init, pruner, k, ds, regime, seed)
        for init, pruner, k in tickets_of_fig3()
        for ds in config["transfer"]["datasets"]
        for regime in REGIMES
        for seed in SEEDS
    ]


def made_by_pretrain_rule(wildcards):
    if "train" in config["pretrain"][wildcards.init]:
        return [jobs.pretrained_file(config, wildcards.init)]
    return []


def previous_ticket(wildcards):
    k = int(wildcards.round)
    if wildcards.pruner != "imp_st":
        return []
    return ticket_file(wildcards.init, "dense", 0) if k == 1 else ticket_file(wildcards.init, "imp_st", k - 1)
