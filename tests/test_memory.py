"""Memory records: each rule's peak from Snakemake's benchmark files, and the measured memory of
a training pass per image."""

from sparserobust.performance import memory, reports

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_peak_memory_per_rule_from_benchmark_files(tmp_path):
    for rel, rss in (("transfer/a/seed0.tsv", 1200.5), ("transfer/b/seed1.tsv", 1500.0), ("ticket/r2.tsv", 4881.5)):
        path = tmp_path / "benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + f"21.9\t0:00:21\t{rss}\t1\t1\t1\t0\t0\t100\t30\n")
    table = reports.peak_memory(tmp_path).set_index("rule")
    assert list(table.index) == ["ticket", "transfer"]  # largest first
    assert table.loc["transfer", "jobs"] == 2 and table.loc["transfer", "max_rss_mb"] == 1500.0
    assert abs(table.loc["transfer", "median_max_rss_mb"] - 1350.25) < 0.06
    assert table.loc["transfer", "largest"] == "transfer/b/seed1.tsv"


def test_training_pass_memory_grows_with_the_batch():
    import torch

    hog = torch.ones(300_000_000)  # 1.2 GB here: a child's measurement must not inherit this process's
    rows, slope = memory.per_image("small_resnet:16-32-64", 10, 64, [2, 96])
    del hog
    assert rows[0]["peak_mb"] < 1000
    # 94 more images of 16 x 64 x 64 fp32 activations in several layers: at least 1 MB each
    assert rows[0]["peak_mb"] < rows[1]["peak_mb"] and slope > 1.0
