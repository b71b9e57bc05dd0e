"""The collected tables behind every figure (CSV), one function per kind, written atomically."""

import io

import pandas as pd

from ..foundations import provenance
from . import metrics, published, swt_tables
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
    """Per pre-training, pruning method, dataset and data fraction: the panels run, the verdict they
    allow (double-win; AT matching where data-limited transfer ran no ST) and its extreme sparsity."""
    verdicts = metrics.double_win(metrics.matching(read_runs(args.inputs)))
    table = metrics.extreme(verdicts)
    table["published_sparsity"] = [published.double_win(r.init, r.pruner, r.dataset, r.data)
                                   for r in table.itertuples()]
    return write_csv(table, args.out)


def transfer_attack(args):
    """Table A2: white-box PGD RA beside the transfer-attack RA and AutoAttack RA, mean and std over seeds."""
    table = read_runs(args.inputs)
    if "test_transfer_ra" not in table:
        raise ValueError("no run carries a transfer-attack accuracy (analysis.table_a2.datasets is empty?)")
    table = table[table["test_transfer_ra"].notna()]
    for col in ("test_aa", "test_aa_pgd"):  # AutoAttack switched off
        if col not in table:
            table = table.assign(**{col: float("nan")})
    out = (table.groupby(["init", "pruner", "round", "dataset", "data"])
           .agg(sparsity=("sparsity", "mean"), ra_mean=("test_ra", "mean"), ra_std=("test_ra", "std"),
                transfer_ra_mean=("test_transfer_ra", "mean"), transfer_ra_std=("test_transfer_ra", "std"),
                aa_mean=("test_aa", "mean"), aa_std=("test_aa", "std"), aa_pgd_mean=("test_aa_pgd", "mean"),
                sa_mean=("test_sa", "mean"), seeds=("seed", "nunique")).reset_index())
    out["sparsity"] = 100 * out["sparsity"]
    return write_csv(out.fillna({"ra_std": 0.0, "transfer_ra_std": 0.0, "aa_std": 0.0}), args.out)


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
    """Fig. 7: all-zero conv kernels per layer of every pre-training's IMP ticket at one common round
    (analysis.fig7.round); the double-win table only says whether that round is a double-win ticket."""
    if args.round is None or args.verdicts is None or args.dataset is None:
        raise ValueError("kernels needs --round (analysis.fig7.round), --verdicts and --dataset")
    wins = metrics.double_win_rounds(pd.read_csv(args.verdicts), args.dataset, args.data)
    tickets = {}
    for path in args.inputs:
        init, k, sp, mask = load_ticket(path)
        tickets[(init, k)] = (sp, mask)
    table = analysis.zero_kernels_at(tickets, args.round, wins, args.pointwise)
    return write_csv(table, args.out)


def concat(args):
    return write_csv(pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True), args.out)


def swt_main(args):
    """The main table of Sparsity Winning Twice: RA / SA best and final by both code rules, overfitting,
    gap, AutoAttack, FLOPs saved by both rules, and the published numbers."""
    return write_csv(swt_tables.main_table(swt_tables.records(args.inputs)), args.out)


def swt_curves(args):
    return write_csv(swt_tables.curves(swt_tables.records(args.inputs)), args.out)


def swt_abstract(args):
    """The abstract's claims computed from the reproduced main table, beside the published ones."""
    return write_csv(swt_tables.abstract(pd.read_csv(args.inputs[0])), args.out)


KINDS = {"swt_main": swt_main, "swt_curves": swt_curves, "swt_abstract": swt_abstract,
         "runs": runs, "doublewin": doublewin, "transfer-attack": transfer_attack,
         "similarity": similarity, "kernels": kernels, "concat": concat}
