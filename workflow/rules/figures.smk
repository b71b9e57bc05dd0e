# Tables and figures: collected metrics (CSV) -> Figure 3 (PDF).


rule collect_fig3:
    input:
        fig3_runs,
    output:
        f"{R}/tables/fig3.csv",
    log:
        f"{R}/logs/collect_fig3.log",
    benchmark:
        f"{R}/benchmarks/collect_fig3.tsv"
    conda:
        CONDA_ENV
    shell:
        "python scripts/collect.py --out {output} {input} > {log} 2>&1"


rule fig3:
    input:
        f"{R}/tables/fig3.csv",
    output:
        report(f"{FIG}/fig3.pdf", caption="../report/fig3.rst", category="Double-Win"),
    log:
        f"{R}/logs/fig3.log",
    benchmark:
        f"{R}/benchmarks/fig3.tsv"
    params:
        title=f"Figure 3 ({config['name']} config)",
    conda:
        CONDA_ENV
    shell:
        "python scripts/plot_fig3.py --table {input} --out {output} --title {params.title:q} > {log} 2>&1"
