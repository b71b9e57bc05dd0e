# Training-step benchmark of the engine against a plain reference loop (not part of `all`), with
# the config's engine options:  snakemake --cores all results/benchmark/<host>.csv
# Its CSV feeds the GPU-hour projection of this config, per figure (rule project_gpu_hours):
#   snakemake --cores 1 results/benchmark/<host>.gpu_hours.<config name>.csv


rule benchmark:
    output:
        "results/benchmark/{host}.csv",
    log:
        "results/benchmark/{host}.log",
    benchmark:
        "results/benchmark/{host}.tsv"
    wildcard_constraints:
        host=r"[^./]+",
    conda:
        CONDA_ENV
    threads: 16  # scaled down to the cores given
    resources:
        gpu=1,
    params:
        engine="--precision {} {}".format(
            config.get("engine", {}).get("precision", "auto"),
            "--compile" if config.get("engine", {}).get("compile") else "",
        ),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/benchmark.py {params.engine} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule project_gpu_hours:
    input:
        "results/benchmark/{host}.csv",
    output:
        f"results/benchmark/{{host}}.gpu_hours.{config['name']}.csv",
    log:
        f"results/benchmark/{{host}}.gpu_hours.{config['name']}.log",
    benchmark:
        f"results/benchmark/{{host}}.gpu_hours.{config['name']}.tsv"
    wildcard_constraints:
        host=r"[^./]+",
    localrule: True
    conda:
        CONDA_ENV
    params:
        configfiles=" ".join(map(str, workflow.configfiles)) or "config.yaml",
    shell:
        "python scripts/project_gpu_hours.py --benchmark {input} --configfile {params.configfiles} "
        "--out {output} > {log} 2>&1"
