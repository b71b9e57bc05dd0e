# Datasets are file targets: each is downloaded (download: true) or verified (published md5 sums,
# folder layouts) once, on the submitting node, into a manifest that training jobs take as input.
# Training jobs never download. They go first (priority): the source task's manifest starts the
# critical path (pre-training, the IMP chain).


rule prepare_dataset:
    output:
        f"{R}/data/{{dataset}}.json",
    log:
        f"{R}/logs/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/prepare_dataset/{{dataset}}.tsv"
    priority: 10
    localrule: True
    conda:
        CONDA_ENV
    params:
        spec=lambda w: jobs.dumps(jobs.dataset(config, w.dataset)),  # with download, unlike the training specs
        checksums=config.get("dataset_checksums", "official"),
    shell:
        "python scripts/prepare_dataset.py --spec {params.spec:q} --checksums {params.checksums} "
        "--out {output} > {log} 2>&1"
