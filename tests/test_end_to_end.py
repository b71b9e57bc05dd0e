"""A tiny run of the real workflow: pre-training -> file:// download -> tickets -> transfer -> fig3."""

import json

import pandas as pd
import yaml

from conftest import ROOT, flip_tensor_byte, snakemake


def tiny_config(tmp):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["name"] = "tiny"
    cfg["results"] = str(tmp / "results")
    cfg["figures"] = str(tmp / "figures")
    del cfg["pretrain"]["fast_adversarial"]
    for entry in cfg["pretrain"].values():
        entry["train"]["epochs"] = 4
    cfg["seeds"] = [0]
    cfg["audit"] = {"learning": False}  # transfers of 3 epochs and Mask R-CNN of 1: the demo's audit checks learning
    cfg["imp"]["rounds"] = 2
    cfg["imp"]["retrain"]["epochs"] = 1
    for regime in ("standard", "adversarial"):  # shorter than the demo's
        cfg["transfer"]["regimes"][regime]["epochs"] = 3
    cfg["transfer"]["datasets"] = ["demo_cifar10"]
    cfg["datasets"]["demo_cifar10"].update(val_size=100, test_size=200)  # PGD on these every epoch / at the end
    cfg["transfer"]["rounds"] = [0, 2]
    cfg["transfer"]["data_fractions"] = [0.2]
    cfg["analysis"].update(fig4={"init": "adversarial", "datasets": ["demo_cifar10"]},
                           fig5={"datasets": ["demo_cifar10"]})
    cfg["analysis"]["fig6"].update(resolution=3, test_size=50, train={})
    cfg["analysis"]["table_a2"]["train"] = {"epochs": 4}
    cfg["analysis"]["fig2"].update(round=2, train={})
    cfg["analysis"]["figA10"] = {"datasets": ["demo_cub"], "segmentation": "demo_voc", "rounds": [0, 2],
                                 "regimes": ["standard"]}
    for name in ("demo_cub", "demo_voc"):  # their fabricated copies under this run's results
        cfg["datasets"][name]["root"] = str(tmp / "files" / name)
    cfg["datasets"]["demo_voc"]["fabricate"].update(n_test=16)  # the demo's 64 training images
    cfg["segmentation"]["train"].update(epochs=1, milestones=[1])
    sw = cfg["swt"]
    sw["datasets"], sw["archs"] = ["demo_swt_a"], ["small_resnet:8-16-32"]  # the demo's network learns slowly
    # clearer templates and batches of 8 (16 steps an epoch): every method learns in 6 epochs on 128 images
    cfg["datasets"]["demo_swt_a"].update(train_size=128, val_size=64, test_size=64, noise=0.1)
    sw["train"].update(epochs=6, batch_size=8)
    sw["robust_bird"]["stage1"].update(epochs=4, batch_size=8)
    sw["flying_bird"]["regrow_count"] = "exact"  # so Flying Bird ends at its initial density to 1e-4 (audit)
    sw["flying_bird_plus"]["start_epoch"] = 2
    sw["kd_swa"]["swa_start"] = 2
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(cfg, *targets, options=("--cores", "2")):
    out = snakemake(*options, "--nolock", f"--configfile={cfg}", "--", *targets, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


FIGURES = ["fig2", "fig3", "fig4", "fig5", "fig6", "figA9", "fig7", "figA8", "tableA2", "table_doublewin", "figA10",
           "swt_overfitting", "swt_density", "swt_gap", "swt_table"]
TABLE_OF = {"swt_overfitting": "swt_curves", "swt_density": "swt_curves", "swt_gap": "swt_main",
            "swt_table": "swt_main"}


def test_tiny_workflow_makes_every_figure(tmp_path):
    cfg = tiny_config(tmp_path)
    run(cfg, "all", "export")
    for name in FIGURES:
        assert (tmp_path / "figures" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", name
        assert (tmp_path / "results" / "tables" / f"{TABLE_OF.get(name, name)}.csv").stat().st_size > 0, name
    table = pd.read_csv(tmp_path / "results/tables/fig3.csv")
    # (2 dense + 2 IMP round 2 + 1 random round 2) x 1 dataset x 2 regimes x 1 seed
    assert len(table) == 5 * 2
    assert set(table["pruner"]) == {"dense", "imp_st", "random"}
    assert (table["test_sa"] > 20).all()  # 10 classes: chance is 10 %
    tickets = table[(table["regime"] == "adversarial") & (table["pruner"] != "random")]
    assert (tickets["test_sa"] > 50).all() and (tickets["test_ra"] > 20).all()
    assert abs(table[table["pruner"] == "imp_st"]["sparsity"].iloc[0] - 0.75) < 1e-3
    ticket = tmp_path / "results/tickets/standard/imp_st/round1.pt"
    assert ticket.exists()  # every round is its own target
    a2 = pd.read_csv(tmp_path / "results/tables/tableA2.csv")
    # dense and IMP tickets of both pre-trainings, random pruning of one
    assert len(a2) == 5 and a2["transfer_ra_mean"].notna().all()
    fig4 = pd.read_csv(tmp_path / "results/tables/fig4.csv")
    assert set(fig4["pruner"]) == {"dense", "imp_st", "imp_at", "omp", "random"}
    fig5 = pd.read_csv(tmp_path / "results/tables/fig5.csv")
    assert set(fig5["data"]) == {"frac0.2"} and set(fig5["n_train"]) == {120}
    verdicts = pd.read_csv(tmp_path / "results/tables/table_doublewin.csv")
    assert {"extreme_sparsity", "published_sparsity"} <= set(verdicts.columns)
    swt = pd.read_csv(tmp_path / "results/tables/swt_main.csv").set_index("method")
    assert set(swt.index) == {"dense", "robust_bird", "flying_bird", "flying_bird_plus", "flying_bird_plus-kd_swa"}
    assert swt.loc["dense", "final_density"] == 1  # Flying Bird's: the audit (exact); FLOPs: test_sparse_runs.py
    # every Part-B method learns, and robustly (10 classes: chance is 10 %); the attack bites
    assert (swt["best_test_sa"] > 20).all() and (swt["best_test_ra"] > 15).all(), swt
    assert (swt["best_test_ra"] <= swt["best_test_sa"]).all(), swt
    run(cfg, options=("--report", str(tmp_path / "report.html")))
    assert "swt_table.pdf" in (tmp_path / "report.html").read_text(errors="ignore")
    land = pd.read_csv(tmp_path / "results/tables/fig6.csv")
    assert set(land["plane"]) == {"random", "pca", "trajectory"}
    check_appendix(tmp_path / "results")
    check_tables(tmp_path / "results")

    # Determinism: remove one metrics file and rebuild it alone: the same numbers come back.
    target = tmp_path / "results/transfer/adversarial/imp_st/round2/demo_cifar10/full/adversarial/seed0.json"
    first = json.loads(target.read_text())
    assert first["provenance"]["seed"] == 0 and "torch" in first["provenance"]["versions"]
    target.unlink()
    run(cfg, str(target))
    second = json.loads(target.read_text())
    for key in ("test_sa", "test_ra", "test_transfer_ra", "best_epoch", "sparsity"):
        assert first[key] == second[key], key

    # Result files anyone can load: every .pt the workflow wrote opens with a plain torch.load, and
    # the project's loader refuses a corrupt copy of each kind.
    check_plain_files(tmp_path / "results", tmp_path / "corrupt")
    # The export archive: numpy alone reads it, and it holds exactly the tickets' masks.
    check_export(tmp_path / "results")


def check_appendix(results):
    """Fig. 2: dense model and ticket of both pre-trainings, clean and PGD; Fig. A10: CUB-200 (real loader on
    the fabricated layout) well above chance, VOC Mask R-CNN with its backbone still pruned."""
    fig2 = pd.read_csv(results / "tables/fig2.csv")
    assert set(fig2["study"]) == {"fig2-dense", "fig2-ticket"} and set(fig2["surface"]) == {"clean", "pgd"}
    assert fig2.groupby(["study", "surface", "init"]).ngroups == 2 * 2 * 2
    from sparserobust.foundations import provenance

    made = provenance.load_torch(results / "trajectory/fig2-ticket/standard.pt")["provenance"]["config"]
    assert (made["pruner"], made["round"], made["data"], made["fraction"]) == ("imp_st", 2, "frac0.2", 0.2)
    a10 = pd.read_csv(results / "tables/figA10.csv")
    cub, voc = a10[a10["dataset"] == "demo_cub"], a10[a10["dataset"] == "demo_voc"]
    assert len(cub) == 2 * 2 and (cub["test_sa"] > 30).all()  # 10 classes: chance is 10 %
    assert len(voc) == 2 * 2 and set(voc["regime"]) == {"segmentation"} and voc["backbone_zero_ok"].all()
    assert voc[["test_mask_ap", "test_mask_ap50", "test_box_ap", "test_box_ap50"]].stack().between(0, 100).all()
    assert sorted(voc["sparsity"].round(4).unique()) == [0.0, 0.75]


def check_tables(results):
    """Each table against what its inputs say: the workflow's audit (every check passed, each kind of
    table covered) and, here, what the audit leaves to the figures."""
    audit = pd.read_csv(results / "tables/audit.csv")
    assert audit["ok"].all(), audit[~audit["ok"]]
    verdicts = pd.read_csv(results / "tables/table_doublewin.csv")
    kinds = audit["check"].value_counts()
    assert kinds["double-win verdict"] == len(verdicts) and kinds["Fig. A8 similarity"] == len(
        pd.read_csv(results / "tables/figA8.csv"))
    assert kinds["Fig. 7 zero kernels"] == 2 and kinds["Flying Bird keeps its density"] == 1
    runs = pd.concat([pd.read_csv(results / f"tables/{n}.csv") for n in ("fig3", "fig4", "fig5")]).drop_duplicates(
        subset=["file"])
    assert (runs["test_sa"] > 20).all()  # every method; 10 classes: chance is 10 %
    attacked = runs[runs["test_transfer_ra"].notna()]
    assert len(attacked) == (runs["regime"] == "adversarial").sum()  # every adversarial run, and weaker than PGD
    assert (attacked["test_transfer_ra"] > attacked["test_ra"]).all()
    a2 = pd.read_csv(results / "tables/tableA2.csv")
    assert (a2["transfer_ra_mean"] > a2["ra_mean"]).all()
    fig7 = pd.read_csv(results / "tables/fig7.csv")
    # analysis.fig7 judges demo_cifar10's full data: is the round one of the pre-training's double-win rounds?
    for (init, k), rows in fig7.groupby(["init", "round"]):
        v = verdicts[(verdicts["init"] == init) & (verdicts["pruner"] == "imp_st")
                     & (verdicts["dataset"] == "demo_cifar10") & (verdicts["data"] == "full")]["double_win_rounds"]
        words = [] if v.isna().all() else str(v.iloc[0]).split()
        assert set(rows["double_win"]) == {k in {int(float(w)) for w in words}}


KINDS = {"tickets": "mask", "weights": "state_dict", "attack_source": "state_dict", "trajectory": "states",
         "swt": "state_dict"}


def check_plain_files(results, scratch):
    import torch

    from sparserobust.foundations import provenance

    scratch.mkdir()
    seen = set()
    for path in sorted(results.rglob("*.pt")):
        kind = path.relative_to(results).parts[0]
        blob = torch.load(path, map_location="cpu", weights_only=True)
        assert KINDS[kind] in blob and "provenance" in blob and "sha256" in blob, path
        assert provenance.load_torch(path).keys() == blob.keys() - {"sha256"}
        if kind in seen:
            continue
        seen.add(kind)
        bad = flip_tensor_byte(path, scratch / f"{kind}.pt")
        try:
            provenance.load_torch(bad)
            raise AssertionError(f"a corrupt {kind} file was loaded")
        except ValueError as err:
            assert "corrupt" in str(err) and "rebuild" in str(err), err
    assert seen == set(KINDS), seen


def check_export(results):
    import subprocess
    import sys

    from sparserobust.lottery import masks

    archive = results / "export" / "tickets.npz"
    reader = ("import json, sys, numpy as np\n"
              "a = np.load(sys.argv[1])\n"
              "m = json.loads(str(a['manifest']))\n"
              "assert 'torch' not in sys.modules\n"
              "print(json.dumps({t['key']: {n: [int(a[t['key'] + '/' + n].sum()), list(a[t['key'] + '/' + n].shape)]"
              " for n in t['layers']} for t in m['tickets']}))\n")
    out = subprocess.run([sys.executable, "-c", reader, str(archive)], capture_output=True, text=True, check=True)
    exported = json.loads(out.stdout)
    tickets = sorted(results.glob("tickets/*/*/round*.pt"))
    assert len(exported) == len(tickets) > 0
    for path in tickets:
        init, pruner, name = path.relative_to(results / "tickets").parts
        mask = masks.load(path)
        key = f"{init}/{pruner}/{name.removesuffix('.pt')}"
        assert exported[key] == {n: [int(m.sum()), list(m.shape)] for n, m in mask.items()}, key
