"""The audit's accuracy checks, for data that can be learned (the demo's tasks and the papers' datasets;
not the noise images that test the paper's file formats): every method learned, every attack bites, a
transfer attack is weaker than the white-box one, Flying Bird+'s adaptive control acted, and the
detectors of Fig. A10 detect. `chance` maps a dataset to its chance accuracy in percent."""

import pandas as pd

from .audit import row

SA_OVER_CHANCE = 1.5  # every transfer: standard accuracy at least this many times chance
SWT_SA_OVER_CHANCE = 4  # Part B trains from scratch for long: far above chance
SWT_RA_BELOW_SA = 8  # points: PGD lowers the accuracy of every Part B method by at least this
AP50 = 20  # percent: Fig. A10's detectors (an untrained one scores 0)


def transfers(runs, chance):
    """Every transfer run of Fig. 3-5 and Fig. A10's classification: SA well above chance; adversarially
    trained ones: RA < SA, and the transfer attack no stronger than white-box PGD. Adversarial training's
    robustness is judged per task (dataset and data fraction): the mean RA of its runs above chance. A
    weak ticket may sit at chance alone; without working adversarial training the task's PGD RA falls
    below chance as a whole."""
    out = []
    for r in runs.itertuples():
        floor = SA_OVER_CHANCE * chance[r.dataset]
        subject = f"{r.init} {r.pruner} round {r.round} {r.dataset} {r.data} {r.regime} seed {r.seed}"
        out.append(row("learned", subject, r.test_sa >= floor, f"SA {r.test_sa:.1f} vs {floor:.1f}"))
        if r.regime == "adversarial":
            out.append(row("the attack bites", subject, r.test_ra < r.test_sa,
                           f"RA {r.test_ra:.1f} < SA {r.test_sa:.1f}"))
            transfer = getattr(r, "test_transfer_ra", None)
            if pd.notna(transfer):  # measured (Table A2's datasets)
                out.append(row("transfer attack weaker than white-box", subject, transfer >= r.test_ra,
                               f"transfer RA {transfer:.1f} vs white-box RA {r.test_ra:.1f}"))
    adversarial = runs[runs["regime"] == "adversarial"]
    for (dataset, data), task in adversarial.groupby(["dataset", "data"]):
        mean = task["test_ra"].mean()
        out.append(row("adversarial training is robust", f"{dataset} {data}: {len(task)} runs",
                       mean > chance[dataset], f"mean RA {mean:.1f} vs chance {chance[dataset]:.1f}"))
    return out


def sparse_training(main, chance):
    """Part B's main table (mean over seeds), best and final checkpoints of every method."""
    out = []
    for r in main.itertuples():
        subject = f"{r.arch} {r.dataset} {r.method}"
        for tag in ("best", "final"):
            sa, ra = getattr(r, f"{tag}_test_sa"), getattr(r, f"{tag}_test_ra")
            out.append(row(f"learned ({tag})", subject, sa >= SWT_SA_OVER_CHANCE * chance[r.dataset],
                           f"SA {sa:.1f} vs {SWT_SA_OVER_CHANCE * chance[r.dataset]:.1f}"))
            out.append(row(f"the attack bites ({tag})", subject, chance[r.dataset] < ra <= sa - SWT_RA_BELOW_SA,
                           f"chance {chance[r.dataset]:.1f} < RA {ra:.1f} <= SA {sa:.1f} - {SWT_RA_BELOW_SA}"))
        if r.method.startswith("flying_bird_plus"):
            out.append(row("Flying Bird+ adapts its density", subject, abs(r.final_density - r.density_target) > 0.01,
                           f"final {r.final_density:.4f} vs initial {r.density_target:.4f}"))
    return out


def detectors(seg):
    return [row("detects", f"{r.init} {r.pruner} round {r.round} {r.dataset} seed {r.seed}",
                r.test_mask_ap50 > AP50 and r.test_box_ap50 > AP50,
                f"mask AP@.5 {r.test_mask_ap50:.1f}, box AP@.5 {r.test_box_ap50:.1f} vs {AP50}") for r in seg.itertuples()]
