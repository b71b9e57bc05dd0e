# Downstream transfer: one job per (pre-training, pruning method, round, dataset, data, regime, seed);
# data = full or fracF (data-limited). Table A2's robust source model, and Fig. 6's re-run that
# keeps its checkpoints, are trained by the same engine.


rule transfer:
    input:
        weights=f"{R}/weights/{{init}}.pt",
        ticket=f"{R}/tickets/{{init}}/{{pruner}}/round{{round}}.pt",
        attack_source=attack_source_of,
        data=lambda w: manifest(w.dataset),
    output:
        f"{R}/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{data}}/{{regime}}/seed{{seed}}.json",
    log:
        f"{R}/logs/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{data}}/{{regime}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{data}}/{{regime}}/seed{{seed}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("transfer"),
    params:
        spec=lambda w: jobs.dumps(
            jobs.transfer(
                config, w.init, w.pruner, w.round, w.dataset, w.data, w.regime, w.seed
            )
        ),
        source=flag("--attack-source", "attack_source"),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/transfer.py --spec {params.spec:q} --weights {input.weights} "
        "--ticket {input.ticket} {params.source} --out {output} --batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule attack_source:
    input:
        data=lambda w: manifest(w.dataset),
    output:
        f"{R}/attack_source/{{dataset}}.pt",
    log:
        f"{R}/logs/attack_source/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/attack_source/{{dataset}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("attack_source"),
    params:
        spec=lambda w: jobs.dumps(jobs.attack_source(config, w.dataset)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/attack_source.py --spec {params.spec:q} --out {output} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule trajectory:
    input:
        weights=f"{R}/weights/{{init}}.pt",
        ticket=lambda w: ticket_file(w.init, *FIG6_TICKET),
        data=manifest(AN["fig6"]["dataset"]),
    output:
        f"{R}/trajectory/{{init}}.pt",
    log:
        f"{R}/logs/trajectory/{{init}}.log",
    benchmark:
        f"{R}/benchmarks/trajectory/{{init}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("trajectory"),
    params:
        spec=lambda w: jobs.dumps(jobs.trajectory(config, w.init)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/trajectory.py --spec {params.spec:q} --weights {input.weights} "
        "--ticket {input.ticket} --out {output} --batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule landscape:
    input:
        trajectory=f"{R}/trajectory/{{init}}.pt",
        data=manifest(AN["fig6"]["dataset"]),
    output:
        f"{R}/landscape/{{init}}/{{surface}}.csv",
    log:
        f"{R}/logs/landscape/{{init}}/{{surface}}.log",
    benchmark:
        f"{R}/benchmarks/landscape/{{init}}/{{surface}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("landscape"),
    params:
        spec=lambda w: jobs.dumps(jobs.landscape(config, w.init, w.surface)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/landscape.py --spec {params.spec:q} --trajectory {input.trajectory} --out {output} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"
