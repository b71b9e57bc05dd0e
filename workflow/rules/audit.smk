# The audit: every collected table checked against its inputs (verdicts, kernel counts, similarities,
# Flying Bird's density) and, for learnable data, the accuracies a working pipeline reaches.
AUDITED = sorted(
    {FIGURES[name] for name in TARGETS} | set(figure_targets.double_win_runs(config))
)


rule audit:
    input:
        expand(f"{R}/tables/{{name}}.csv", name=AUDITED),
    output:
        f"{R}/tables/audit.csv",
    log:
        f"{R}/logs/tables/audit.log",
    benchmark:
        f"{R}/benchmarks/tables/audit.tsv"
    localrule: True
    conda:
        CONDA_ENV
    params:
        spec=jobs.dumps(jobs.audit(config)),
    shell:
        "python scripts/audit.py --spec {params.spec:q} --out {output} {input} > {log} 2>&1"
