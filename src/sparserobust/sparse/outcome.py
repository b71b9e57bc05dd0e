"""What a Sparsity Winning Twice run reports, under both papers' code rules where they differ.

Best RA and the robust generalization gap (Sparsity-Win-Robust-Generalization):
- dense / Flying Bird (`utils.py` getinfo, get_generalization_gap): best = test RA at the epoch
  of best validation RA; gap = PGD-20 RA on the unaugmented training split (eval mode) minus test
  RA. Columns best_test_ra, final_test_ra, best_gap, final_gap.
- Robust Bird (`Robust-Bird/train_eb.py`): best = the highest test RA over the epochs; gap = the
  running training accuracy of the epoch (PGD-10, train mode, augmented data) minus test RA:
  final = last epoch's minus final test RA, best = highest minus best. Columns max_test_ra,
  final_gap_running, best_gap_running.
FLOPs: per layer (each conv / linear layer's dense FLOPs x its density) and the authors' global
rule (`flops.py`: the whole dense model's FLOPs x the global density), columns *_global.
"""

from ..models import flops


def definitions(history, results, averaged=False):
    """The train_eb.py variants from the per-epoch history (test_ra, train_acc) and final test RA.

    averaged: the run reports its SWA model, so the highest test RA is over the averaged models'
    (swa_test_ra), and the running-accuracy gap is left out: the running training accuracy is the
    student's, not the reported model's."""
    key = "swa_test_ra" if averaged else "test_ra"
    test_ra = [r[key] for r in history if key in r]
    if not test_ra or "final_test_ra" not in results:
        return {}
    best = max(test_ra)
    if averaged:
        return {"max_test_ra": best}
    train_acc = [r["train_acc"] for r in history]
    return {"max_test_ra": best, "final_gap_running": train_acc[-1] - results["final_test_ra"],
            "best_gap_running": max(train_acc) - best}


def flop_counts(layer_flops, dense_total, epoch_densities, final_layer_densities, final_density, images,
                attack_steps, epochs, stage1_epochs=0, stage1_images=None):
    """Training and inference FLOPs under both rules, with their dense references.

    epoch_densities: per trained epoch, (layer densities or None, global density); stage1_images: images per
    epoch of Robust Bird's clean stage 1 (default `images`: its epochs can be capped otherwise)."""
    stage1 = flops.training_flops([dense_total] * stage1_epochs, images if stage1_images is None else stage1_images, 0)
    per_layer = [flops.inference_flops(layer_flops, dense_total, d) for d, _ in epoch_densities]
    glob = [flops.global_inference_flops(dense_total, g) for _, g in epoch_densities]
    return {"train_flops": stage1 + flops.training_flops(per_layer, images, attack_steps),
            "train_flops_global": stage1 + flops.training_flops(glob, images, attack_steps),
            "dense_train_flops": flops.training_flops([dense_total] * epochs, images, attack_steps),
            "inference_flops": flops.inference_flops(layer_flops, dense_total, final_layer_densities),
            "inference_flops_global": flops.global_inference_flops(dense_total, final_density),
            "dense_inference_flops": dense_total}
