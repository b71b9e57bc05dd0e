# Tickets on the source task, one file per round: round0 = dense; IMP round k (imp_st: standard,
# imp_at: PGD re-training) re-trains the rewound round k-1 ticket and prunes 20 % of the remaining
# conv weights globally by magnitude; omp prunes the pre-trained weights once to round k's
# sparsity; random draws a seeded global random mask at that sparsity. The IMP chain is the
# workflow's critical path (round k waits for round k - 1): its jobs, and the pre-trained weights
# they start from, go first whenever several jobs are ready (priority).


rule ticket:
    input:
        weights=f"{R}/weights/{{init}}.pt",
        previous=previous_ticket,
        data=source_manifest,
    output:
        f"{R}/tickets/{{init}}/{{pruner}}/round{{round}}.pt",
    log:
        f"{R}/logs/ticket/{{init}}/{{pruner}}/round{{round}}.log",
    benchmark:
        f"{R}/benchmarks/ticket/{{init}}/{{pruner}}/round{{round}}.tsv"
    priority: 10
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("ticket"),
    params:
        spec=lambda w: jobs.dumps(jobs.ticket(config, w.init, w.pruner, w.round)),
        previous=flag("--previous", "previous"),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/make_ticket.py --spec {params.spec:q} --weights {input.weights} "
        "{params.previous} --out {output} --batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"
