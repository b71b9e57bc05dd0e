# Sparsity Winning Twice: adversarial training from scratch, dense / Robust Bird / Flying Bird /
# Flying Bird+, optionally with knowledge distillation from the dense run + SWA ("-kd_swa").
# One job per (architecture, dataset, method, seed); the dense run also keeps its model (teacher).


rule swt_dense:
    input:
        data=lambda w: manifest(w.dataset),
    output:
        metrics=f"{R}/swt/{{arch}}/{{dataset}}/dense/seed{{seed}}.json",
        model=f"{R}/swt/{{arch}}/{{dataset}}/dense/seed{{seed}}.pt",
    log:
        f"{R}/logs/swt/{{arch}}/{{dataset}}/dense/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/swt/{{arch}}/{{dataset}}/dense/seed{{seed}}.tsv"
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("swt_dense"),
    params:
        spec=lambda w: jobs.dumps(jobs.swt(config, w.arch, w.dataset, "dense", w.seed)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/swt.py --spec {params.spec:q} --out {output.metrics} --model-out {output.model} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule swt_sparse:
    input:
        teacher=swt_teacher,
        data=lambda w: manifest(w.dataset),
    output:
        f"{R}/swt/{{arch}}/{{dataset}}/{{method}}/seed{{seed}}.json",
    log:
        f"{R}/logs/swt/{{arch}}/{{dataset}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/swt/{{arch}}/{{dataset}}/{{method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method=SWT_SPARSE,
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("swt_sparse"),
    params:
        spec=lambda w: jobs.dumps(jobs.swt(config, w.arch, w.dataset, w.method, w.seed)),
        teacher=flag("--teacher", "teacher"),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/swt.py --spec {params.spec:q} {params.teacher} --out {output} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule swt_table:
    input:
        swt_runs,
    output:
        f"{R}/tables/{{name}}.csv",
    log:
        f"{R}/logs/tables/{{name}}.log",
    benchmark:
        f"{R}/benchmarks/tables/{{name}}.tsv"
    wildcard_constraints:
        name="swt_main|swt_curves",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py {wildcards.name} --out {output} {input} > {log} 2>&1"
