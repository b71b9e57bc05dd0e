"""The collected tables behind every figure (CSV), one function per kind, written atomically."""

import io

import pandas as pd

from ..foundations import provenance
from . import metrics, published
from . import overlap as analysis


def write_csv(table, out):
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    provenance.write_text(out, buf.getvalue())
    return table


def runs(args):
    return write_csv(metrics.load_runs(args.inputs), args.out)


def read_runs(paths):
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    return table.drop_duplicates(subset=["file"]).reset_index(drop=True)


def doublewin(args):
    """Extreme double-win sparsity per pre-training, pruning method, dataset and data fraction."""
    verdicts = metrics.double_win(metrics.matching(read_runs(args.inputs)))
    table = metrics.extreme(verdicts)
    table["published_sparsity"] = [published.double_win(r.init, r.pruner, r.dataset, r.data)
                                   for r in table.itertuples()]
    return write_csv(table, args.out)


def transfer_attack(args):
    """Table A2: white-box PGD RA beside the transfer-attack RA, mean and std over seeds."""
    table = read_runs(args.inputs)
    if "test_transfer_ra" not in table:
        raise ValueError("no run carries a transfer-attack accuracy (analysis.table_a2.datasets is empty?)")
    table = table[table["test_transfer_ra"].notna()]
    out = (table.groupby(["init", "pruner", "round", "dataset", "data"])
           .agg(sparsity=("sparsity", "mean"), ra_mean=("test_ra", "mean"), ra_std=("test_ra", "std"),
                transfer_ra_mean=("test_transfer_ra", "mean"), transfer_ra_std=("test_transfer_ra", "std"),
                sa_mean=("test_sa", "mean"), seeds=("seed", "nunique")).reset_index())
    out["sparsity"] = 100 * out["sparsity"]
    return write_csv(out.fillna({"ra_std": 0.0, "transfer_ra_std": 0.0}), args.out)


def load_ticket(path):
    blob = provenance.load_torch(path)
    spec = blob["provenance"]["config"]
    return spec["init"], spec["round"], blob["sparsity"], {n: m.bool() for n, m in blob["mask"].items()}


def similarity(args):
    """Fig. A8: |m_i ∩ m_j| / |m_i ∪ m_j| between the IMP masks of different pre-trainings."""
    by_init, sparsity = {}, {}
    for path in args.inputs:
        init, k, sp, mask = load_ticket(path)
        by_init.setdefault(init, {})[k] = mask
        sparsity[k] = 100 * sp
    common = sorted(set.intersection(*(set(v) for v in by_init.values())))
    return write_csv(analysis.similarity_table(by_init, {k: sparsity[k] for k in common}), args.out)


def kernels(args):
    """Fig. 7: all-zero conv kernels per layer at each pre-training's extreme double-win sparsity."""
    verdicts = pd.read_csv(args.verdicts)
    verdicts = verdicts[(verdicts["pruner"] == "imp_st") & (verdicts["dataset"] == args.dataset)
                        & (verdicts["data"] == args.data)]
    tickets = {}
    for path in args.inputs:
        init, k, sp, mask = load_ticket(path)
        tickets[(init, k)] = (sp, mask)
    parts = []
    for init in sorted({i for i, _ in tickets}):
        row = verdicts[verdicts["init"] == init]
        extreme = row["extreme_round"].iloc[0] if not row.empty else None
        found = extreme is not None and not pd.isna(extreme)
        k = int(extreme) if found else min(r for i, r in tickets if i == init)
        sp, mask = tickets[(init, k)]
        parts.append(analysis.zero_kernels(mask).assign(init=init, round=k, sparsity=100 * sp,
                                                        double_win=found, layer_index=lambda t: range(len(t))))
    return write_csv(pd.concat(parts, ignore_index=True), args.out)


def concat(args):
    return write_csv(pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True), args.out)


def _swt_records(paths):
    import json

    return [json.load(open(p)) for p in paths]


def swt_main(args):
    """The main table of Sparsity Winning Twice: RA / SA best and final, overfitting, gap, FLOPs."""
    rows = []
    for rec in _swt_records(args.inputs):
        rows.append({k: rec.get(k) for k in ("arch", "dataset", "method", "seed", "density_target", "final_density",
                                             "best_epoch", "ticket_epoch", "best_test_ra", "final_test_ra",
                                             "best_test_sa", "final_test_sa", "robust_overfitting", "best_gap",
                                             "final_gap", "train_flops", "dense_train_flops", "inference_flops",
                                             "dense_inference_flops")})
    table = pd.DataFrame(rows)
    mean = table.groupby(["arch", "dataset", "method"]).mean(numeric_only=True).reset_index()
    mean["seeds"] = table.groupby(["arch", "dataset", "method"])["seed"].nunique().values
    mean["train_flops_saving"] = 100 * (1 - mean["train_flops"] / mean["dense_train_flops"])
    mean["inference_flops_saving"] = 100 * (1 - mean["inference_flops"] / mean["dense_inference_flops"])
    pub = [published.swt(r.arch, r.dataset, r.method) for r in mean.itertuples()]
    mean["published_best_ra"], mean["published_final_ra"], mean["published_gap"] = zip(*pub)
    return write_csv(mean.drop(columns=["seed"]), args.out)


def swt_curves(args):
    """Per epoch of every run: test SA/RA, train RA, validation RA and robust loss, density."""
    parts = []
    for rec in _swt_records(args.inputs):
        hist = pd.DataFrame(rec["history"])
        parts.append(hist.assign(arch=rec["arch"], dataset=rec["dataset"], method=rec["method"], seed=rec["seed"]))
    return write_csv(pd.concat(parts, ignore_index=True), args.out)


KINDS = {"swt_main": swt_main, "swt_curves": swt_curves, "runs": runs, "doublewin": doublewin, "transfer-attack": transfer_attack,
         "similarity": similarity, "kernels": kernels, "concat": concat}
