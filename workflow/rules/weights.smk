# Pre-trained weights: download (or local path) -> sha256 check -> canonical torchvision state dict.
# fetch_weights is a local rule: it runs on the submitting node, which has the network.
# In the demo, the three "pre-trained" models are made first by pretrain_demo and served by file:// URL.


rule pretrain_demo:
    input:
        source_manifest,
    output:
        pth=f"{R}/pretrain/{{init}}.pth",
        sha=f"{R}/pretrain/{{init}}.pth.sha256",
        log=f"{R}/pretrain/{{init}}.pth.json",
    log:
        f"{R}/logs/pretrain_demo/{{init}}.log",
    benchmark:
        f"{R}/benchmarks/pretrain_demo/{{init}}.tsv"
    priority: 10
    retries: RETRIES
    conda:
        CONDA_ENV
    threads: 1
    resources:
        **res("pretrain_demo"),
    params:
        spec=lambda w: jobs.dumps(jobs.pretrain(config, w.init)),
    shell:
        "python scripts/launch.py --gpus {resources.gpu} -- scripts/pretrain_demo.py --spec {params.spec:q} --out {output.pth} "
        "--batch-split {resources.gpu_request} --threads {threads} > {log} 2>&1"


rule fetch_weights:
    input:
        weights_sources,
    output:
        f"{R}/weights/{{init}}.pt",
    log:
        f"{R}/logs/fetch_weights/{{init}}.log",
    benchmark:
        f"{R}/benchmarks/fetch_weights/{{init}}.tsv"
    priority: 10
    localrule: True
    conda:
        CONDA_ENV
    resources:
        **res("fetch_weights"),
    params:
        spec=lambda w: jobs.dumps(jobs.fetch(config, w.init)),
        downloads=f"{R}/downloads",
    shell:
        "python scripts/fetch_weights.py --spec {params.spec:q} --out {output} "
        "--download-dir {params.downloads} > {log} 2>&1"
