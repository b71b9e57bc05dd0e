# Collected tables (CSV under <results>/tables/): runs per figure (Fig. 3-5, A10), double-win verdicts,
# Table A2, mask similarity (Fig. A8), all-zero kernels at one common round (Fig. 7), loss
# landscapes (Fig. 6, A9, and Fig. 2's dense model and ticket on the data-limited split).
RUNS = {"fig3": fig3_runs, "fig4": fig4_runs, "fig5": fig5_runs, "figA10": figA10_runs}


rule collect_runs:
    input:
        lambda w: RUNS[w.name](),
    output:
        f"{R}/tables/{{name}}.csv",
    log:
        f"{R}/logs/tables/{{name}}.log",
    benchmark:
        f"{R}/benchmarks/tables/{{name}}.tsv"
    wildcard_constraints:
        name="fig3|fig4|fig5|figA10",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py runs --out {output} {input} > {log} 2>&1"


rule double_win_table:
    input:
        expand(f"{R}/tables/{{name}}.csv", name=figure_targets.double_win_runs(config)),
    output:
        f"{R}/tables/table_doublewin.csv",
    log:
        f"{R}/logs/tables/table_doublewin.log",
    benchmark:
        f"{R}/benchmarks/tables/table_doublewin.tsv"
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py doublewin --out {output} {input} > {log} 2>&1"


rule transfer_attack_table:
    input:
        f"{R}/tables/fig3.csv",
    output:
        f"{R}/tables/tableA2.csv",
    log:
        f"{R}/logs/tables/tableA2.log",
    benchmark:
        f"{R}/benchmarks/tables/tableA2.tsv"
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py transfer-attack --out {output} {input} > {log} 2>&1"


rule mask_similarity:
    input:
        imp_tickets,
    output:
        f"{R}/tables/figA8.csv",
    log:
        f"{R}/logs/tables/figA8.log",
    benchmark:
        f"{R}/benchmarks/tables/figA8.tsv"
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py similarity --out {output} {input} > {log} 2>&1"


rule zero_kernels:
    input:
        verdicts=f"{R}/tables/table_doublewin.csv",
        tickets=fig7_tickets,
    output:
        f"{R}/tables/fig7.csv",
    log:
        f"{R}/logs/tables/fig7.log",
    benchmark:
        f"{R}/benchmarks/tables/fig7.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        where=f"--dataset {AN['fig7']['dataset']} --data {AN['fig7']['data']} "
        f"--round {AN['fig7']['round']} --pointwise {AN['fig7']['pointwise']}",
    shell:
        "python scripts/tables.py kernels --verdicts {input.verdicts} {params.where} "
        "--out {output} {input.tickets} > {log} 2>&1"


LANDSCAPES = {
    "fig6": landscape_files("clean"),
    "figA9": landscape_files("pgd"),
    "fig2": landscape_files("clean", STUDIES[1:]) + landscape_files("pgd", STUDIES[1:]),
}


rule landscape_table:
    input:
        lambda w: LANDSCAPES[w.name],
    output:
        f"{R}/tables/{{name}}.csv",
    log:
        f"{R}/logs/tables/{{name}}.log",
    benchmark:
        f"{R}/benchmarks/tables/{{name}}.tsv"
    wildcard_constraints:
        name="fig6|figA9|fig2",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python scripts/tables.py concat --out {output} {input} > {log} 2>&1"


rule peak_memory:
    input:
        expand(f"{FIG}/{{name}}.pdf", name=TARGETS),
    output:
        f"{R}/tables/peak_memory.csv",
    log:
        f"{R}/logs/tables/peak_memory.log",
    benchmark:
        f"{R}/benchmarks/tables/peak_memory.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        results=lambda w, output: os.path.dirname(os.path.dirname(output[0])),  # <results>
    shell:
        "python scripts/peak_memory.py {params.results} --out {output} > {log} 2>&1"
