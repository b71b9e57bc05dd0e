"""A second selected checkpoint beside the engine's own: the epoch with the best value of another
validation metric, kept through checkpoints and resumes by the engine's hooks.

Double-Win-LTH's main_adv_eval.py (adversarial transfer) saves both model_SA_best.pth.tar and
model_RA_best.pth.tar, chosen on validation SA and validation RA, and tests both on clean and
PGD-20 test data. The engine selects the best-RA model (select = "ra"); `BestOf("val_sa")` keeps
the best-SA one, with the engine's rule: the first epoch with the highest value wins.
"""

import copy

from . import evaluate


class BestOf:
    """The model state of the epoch whose record has the highest `key` (e.g. "val_sa")."""

    def __init__(self, key):
        self.key = key
        self.best = None  # {"epoch", "score"}
        self.state = None

    def on_epoch(self, rec, model):
        score = rec.get(self.key)
        if score is None:
            return
        if self.best is None or score > self.best["score"]:
            self.best = {"epoch": rec["epoch"], "score": score}
            self.state = copy.deepcopy(model.state_dict())

    def get(self):
        return {"key": self.key, "best": self.best, "state": self.state}

    def set(self, saved):
        if saved is None or saved.get("key") != self.key:
            raise ValueError(f"the saved training state keeps no best-{self.key} checkpoint; delete the "
                             f".resume file beside the output to start the job again")
        self.best, self.state = saved["best"], saved["state"]

    def hooks(self):
        """engine.Hooks: the per-epoch callback and the kept state in the engine's checkpoints."""
        from .engine import Hooks

        return Hooks(on_epoch=self.on_epoch, extra_state=(self.get, self.set))

    def test(self, model, data, device, hp, seed, suffix):
        """Test metrics of the kept state (evaluate.report, as for the selected model) as
        {test_sa_<suffix>, test_ra_<suffix>, <suffix>_epoch}; loads that state into `model` (the
        caller is done with its own weights). Empty when no epoch's record had `key`."""
        if self.best is None:
            return {}
        model.load_state_dict(self.state)
        report = evaluate.report(model, data, device, hp, seed=seed)
        return {**{f"test_{k}_{suffix}": report[k] for k in ("sa", "ra") if k in report},
                f"{suffix}_epoch": self.best["epoch"]}
