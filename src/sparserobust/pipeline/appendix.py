"""The checks of the appendix figures' settings (Fig. 2, Fig. A10), called by config.validate."""

from . import config


def check(cfg, an, fail):
    """Fig. 2 and Fig. A10: their tickets exist and their datasets are of the right kind."""
    datasets, imp_rounds = cfg["datasets"], cfg["imp"]["rounds"]
    f2 = an["fig2"]
    if f2["dataset"] not in datasets:
        fail("analysis.fig2.dataset", f"unknown dataset {f2['dataset']!r}; defined: {sorted(datasets)}")
    if not 1 <= f2["round"] <= imp_rounds:
        fail("analysis.fig2.round", f"round {f2['round']} must be an IMP round, 1..imp.rounds = {imp_rounds}")
    a10 = an["figA10"]
    for i, name in enumerate(a10["datasets"]):
        if name not in datasets:
            fail(f"analysis.figA10.datasets[{i}]", f"unknown dataset {name!r}; defined: {sorted(datasets)}")
        if datasets[name]["kind"] == "voc":
            fail(f"analysis.figA10.datasets[{i}]", f"{name!r} is a segmentation dataset: set it as "
                 "analysis.figA10.segmentation")
    seg = a10["segmentation"]
    if seg is not None and (seg not in datasets or datasets[seg]["kind"] != "voc"):
        fail("analysis.figA10.segmentation", f"{seg!r} is not a dataset of kind voc; defined: {sorted(datasets)}")
    if seg is not None and "segmentation" not in cfg:
        fail("segmentation", "analysis.figA10.segmentation needs the segmentation settings (train, detector)")
    for i, k in enumerate(a10["rounds"]):
        if not 0 <= k <= imp_rounds:
            fail(f"analysis.figA10.rounds[{i}]", f"round {k} is beyond imp.rounds = {imp_rounds}")
    for i, regime in enumerate(a10["regimes"]):
        if regime not in config.REGIMES:
            fail(f"analysis.figA10.regimes[{i}]", f"unknown regime {regime!r}; known: {', '.join(config.REGIMES)}")


def transfer_datasets(cfg):
    """Every dataset that classification transfers train on: transfer.datasets and Fig. A10's."""
    extra = cfg.get("analysis", {}).get("figA10", {}).get("datasets", [])
    return list(dict.fromkeys(cfg["transfer"]["datasets"] + extra))


def has_figA10(cfg):
    """Whether the config asks for Fig. A10 (a classification or a segmentation dataset)."""
    a10 = config.analysis(cfg)["figA10"]
    return bool(a10["datasets"] or a10["segmentation"])
