"""The Sparsity Winning Twice tables: FLOPs saved by both rules, the published numbers beside the
reproduced ones, and the abstract's claims recomputed from a table the way the paper's follow from
its own (fed the published rows, they give the published 34.44 and 4.02 back)."""

import pandas as pd
import pytest

from sparserobust.analysis import published, swt_tables
from sparserobust.analysis.plotting import KINDS


def record(method, best_ra, final_ra, gap, flops_per_layer, flops_global, seed=0):
    return {"arch": "preact_resnet18", "dataset": "cifar100", "method": method, "seed": seed,
            "density_target": 0.2, "final_density": 0.2, "best_test_ra": best_ra, "final_test_ra": final_ra,
            "max_test_ra": best_ra + 1, "best_test_sa": 50.0, "final_test_sa": 52.0,
            "robust_overfitting": best_ra - final_ra, "best_gap": gap, "final_gap": gap,
            "best_gap_running": gap - 1, "final_gap_running": gap - 2, "best_test_aa": best_ra - 3,
            "final_test_aa": final_ra - 3, "train_flops": flops_per_layer, "train_flops_global": flops_global,
            "dense_train_flops": 100.0, "inference_flops": flops_per_layer / 10, "inference_flops_global": flops_global / 10,
            "dense_inference_flops": 10.0, "history": []}


def test_main_table_reports_both_flops_rules_and_the_published_row():
    recs = [record("dense", 26.93, 19.62, 54.56, 100.0, 100.0),
            record("flying_bird_plus", 26.66, 23.37, 20.12, 52.0, 20.0),
            record("flying_bird_plus", 26.66, 23.37, 20.12, 48.0, 20.0, seed=1)]
    main = swt_tables.main_table(recs).set_index("method")
    fbp = main.loc["flying_bird_plus"]
    assert fbp["seeds"] == 2
    assert fbp["train_flops_saving"] == pytest.approx(50.0) and fbp["train_flops_saving_global"] == pytest.approx(80.0)
    assert fbp["inference_flops_saving"] == pytest.approx(50.0)
    assert fbp["inference_flops_saving_global"] == pytest.approx(80.0)
    assert fbp["published_best_ra"] == 26.66 and fbp["published_gap"] == 20.12
    assert fbp["published_best_sa"] == 52.29 and fbp["published_overfitting"] == pytest.approx(3.29)
    assert fbp["published_train_flops_saving"] == pytest.approx(100 * (1 - 100.90 / 772.41))
    assert "utils" in fbp["published_rule"] and "train_eb" in published.swt_row("preact_resnet18", "cifar10",
                                                                                  "robust_bird")["published_rule"]
    assert published.swt_row("vgg16_bn", "cifar10", "dense")["published_best_ra"] is None


def test_abstract_claims_recomputed_from_the_published_rows_give_the_published_numbers(tmp_path):
    recs = [record("dense", 26.93, 19.62, 54.56, 100.0, 100.0),
            record("flying_bird_plus", 26.66, 23.37, 20.12, 52.0, 12.17)]
    claims = swt_tables.abstract(swt_tables.main_table(recs)).set_index("claim")
    assert claims.loc["gap_reduction", "reproduced"] == pytest.approx(34.44)
    assert claims.loc["gap_reduction", "published"] == 34.44
    assert claims.loc["overfitting_reduction", "reproduced"] == pytest.approx(4.02)
    assert claims.loc["overfitting_reduction", "published"] == 4.02
    assert claims.loc["train_flops_saving_global", "reproduced"] == pytest.approx(87.83)
    assert claims.loc["train_flops_saving_global", "published"] == 87.83
    path = tmp_path / "abstract.csv"
    claims.reset_index().to_csv(path, index=False)
    KINDS["swt_abstract"](path, tmp_path / "abstract.pdf")
    main_path = tmp_path / "main.csv"
    swt_tables.main_table(recs).to_csv(main_path, index=False)
    KINDS["swt_table"](main_path, tmp_path / "main.pdf")
    assert (tmp_path / "abstract.pdf").stat().st_size > 0 and (tmp_path / "main.pdf").stat().st_size > 0
    assert pd.read_csv(path)["published"].notna().sum() == 4
    assert published.abstract("preact_resnet18", "demo_swt_a", "flying_bird_plus", "train_flops_saving_global") is None
