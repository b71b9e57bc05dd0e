# Every ticket's mask of this config in one archive for use without the workflow:
# `snakemake export` writes <results>/export/tickets.npz (numpy arrays + a JSON manifest).


rule export:
    input:
        all_tickets,
    output:
        f"{R}/export/tickets.npz",
    log:
        f"{R}/logs/export/tickets.log",
    benchmark:
        f"{R}/benchmarks/export/tickets.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        name=config["name"],
    shell:
        "python scripts/export_tickets.py --config-name {params.name:q} --out {output} {input} > {log} 2>&1"
