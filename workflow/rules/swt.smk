# Sparsity Winning Twice: adversarial training from scratch, dense / Robust Bird / Flying Bird /
# Flying Bird+, optionally with distillation + SWA ("-kd_swa", Chen et al. 2021) from two teachers:
# the dense adversarial run (best RA) and a dense standard run (best SA), each keeping its model.
# One job per (architecture, dataset, method, seed).


rule swt_dense:
    input:
        data=lambda w: manifest(w.dataset),
    output:
        metrics=f"{R}/swt/{{arch}}/{{dataset}}/{{teacher}}/seed{{seed}}.json",
        model=f"{R}/swt/{{arch}}/{{dataset}}/{{teacher}}/seed{{seed}}.pt",
    log:
        f"{R}/logs/swt/{{arch}}/{{dataset}}/{{teacher}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/swt/{{arch}}/{{dataset}}/{{teacher}}/seed{{seed}}.tsv"
    wildcard_constraints:
        teacher="dense|standard",
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("swt_dense"),
    params:
        spec=lambda w: jobs.dumps(
            jobs.swt(config, w.arch, w.dataset, w.teacher, w.seed)
        ),
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
        teacher=lambda w, input: " ".join(f"--teacher {t}" for t in input.teacher),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/swt.py --spec {params.spec:q} {params.teacher} --out {output} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule swt_abstract_table:
    input:
        f"{R}/tables/swt_main.csv",
    output:
        f"{R}/tables/swt_abstract.csv",
    log:
        f"{R}/logs/tables/swt_abstract.log",
    benchmark:
        f"{R}/benchmarks/tables/swt_abstract.tsv"
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py swt_abstract --out {output} {input} > {log} 2>&1"


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
