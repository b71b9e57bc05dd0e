# Downstream transfer: one job per (pre-training, pruning method, round, dataset, data, regime, seed);
# data = full or fracF (data-limited). Table A2's robust source model, and the re-runs that keep their
# checkpoints for the loss landscapes (study: fig6, fig2-dense, fig2-ticket), are trained by the same
# engine. VOC instance segmentation (Fig. A10): one Mask R-CNN job per (pre-training, pruner, round, seed).


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
        ticket=lambda w: ticket_file(w.init, *study_ticket(w.study)),
        data=lambda w: manifest(study_dataset(w.study)),
    output:
        f"{R}/trajectory/{{study}}/{{init}}.pt",
    log:
        f"{R}/logs/trajectory/{{study}}/{{init}}.log",
    benchmark:
        f"{R}/benchmarks/trajectory/{{study}}/{{init}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("trajectory"),
    params:
        spec=lambda w: jobs.dumps(jobs.trajectory(config, w.init, w.study)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/trajectory.py --spec {params.spec:q} --weights {input.weights} "
        "--ticket {input.ticket} --out {output} --batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule landscape:
    input:
        trajectory=f"{R}/trajectory/{{study}}/{{init}}.pt",
        data=lambda w: manifest(study_dataset(w.study)),
    output:
        f"{R}/landscape/{{study}}/{{init}}/{{surface}}.csv",
    log:
        f"{R}/logs/landscape/{{study}}/{{init}}/{{surface}}.log",
    benchmark:
        f"{R}/benchmarks/landscape/{{study}}/{{init}}/{{surface}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("landscape"),
    params:
        spec=lambda w: jobs.dumps(jobs.landscape(config, w.init, w.surface, w.study)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/landscape.py --spec {params.spec:q} --trajectory {input.trajectory} --out {output} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule segmentation:
    input:
        weights=f"{R}/weights/{{init}}.pt",
        ticket=f"{R}/tickets/{{init}}/{{pruner}}/round{{round}}.pt",
        data=lambda w: manifest(w.dataset),
    output:
        f"{R}/segmentation/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/seed{{seed}}.json",
    log:
        f"{R}/logs/segmentation/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/segmentation/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/seed{{seed}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("segmentation"),
    params:
        spec=lambda w: jobs.dumps(
            jobs.segmentation(config, w.init, w.pruner, w.round, w.dataset, w.seed)
        ),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/segmentation.py --spec {params.spec:q} "
        "--weights {input.weights} --ticket {input.ticket} --out {output} --threads {threads} > {log} 2>&1"
