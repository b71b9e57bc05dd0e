# Every figure and table: <results>/tables/NAME.csv -> figures/NAME.pdf, with a report caption.


for fig, table in FIGURES.items():

    rule:
        name:
            f"plot_{fig}"
        input:
            f"{R}/tables/{table}.csv",
        output:
            report(
                f"{FIG}/{fig}.pdf",
                caption=f"../report/{fig}.rst",
                category=(
                    "Sparsity Winning Twice" if fig.startswith("swt") else "Double-Win"
                ),
            ),
        log:
            f"{R}/logs/plot/{fig}.log",
        benchmark:
            f"{R}/benchmarks/plot/{fig}.tsv"
        localrule: True
        conda:
            CONDA_ENV
        params:
            kind=fig,
            title=f"({config['name']} config)",
        shell:
            "python scripts/plot.py {params.kind} --table {input} --out {output} "
            "--title {params.title:q} > {log} 2>&1"
