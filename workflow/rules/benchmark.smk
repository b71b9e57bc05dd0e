# Training-step benchmark of the engine against a plain reference loop (not part of `all`):
#   snakemake --cores all results/benchmark/<host>.csv


rule benchmark:
    output:
        "results/benchmark/{host}.csv",
    log:
        "results/benchmark/{host}.log",
    benchmark:
        "results/benchmark/{host}.tsv"
    threads: 16  # scaled down to the cores given
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    shell:
        "python scripts/benchmark.py --threads {threads} --out {output} > {log} 2>&1"
