# Downstream transfer: one job per (pre-training, pruning method, round, dataset, regime, seed).


rule transfer:
    input:
        weights=f"{R}/weights/{{init}}.pt",
        ticket=f"{R}/tickets/{{init}}/{{pruner}}/round{{round}}.pt",
    output:
        f"{R}/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{regime}}/seed{{seed}}.json",
    log:
        f"{R}/logs/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{regime}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/transfer/{{init}}/{{pruner}}/round{{round}}/{{dataset}}/{{regime}}/seed{{seed}}.tsv"
    params:
        spec=lambda w: jobs.dumps(
            jobs.transfer(config, w.init, w.pruner, w.round, w.dataset, w.regime, w.seed)
        ),
    threads: 1
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    shell:
        "python scripts/transfer.py --spec {params.spec:q} --weights {input.weights} "
        "--ticket {input.ticket} --out {output} --threads {threads} > {log} 2>&1"
