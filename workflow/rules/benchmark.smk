# Training-step benchmark of the engine against a plain reference loop (not part of `all`), with
# the config's engine options:  snakemake --cores all results/benchmark/<host>.csv
# Its CSV feeds the GPU-hour projection: python scripts/project_gpu_hours.py --benchmark <csv>


rule benchmark:
    output:
        "results/benchmark/{host}.csv",
    log:
        "results/benchmark/{host}.log",
    benchmark:
        "results/benchmark/{host}.tsv"
    params:
        engine=lambda w: "--precision {} {}".format(
            config.get("engine", {}).get("precision", "auto"),
            "--compile" if config.get("engine", {}).get("compile") else "",
        ),
    threads: 16  # scaled down to the cores given
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    shell:
        "python scripts/benchmark.py {params.engine} --threads {threads} --out {output} > {log} 2>&1"
