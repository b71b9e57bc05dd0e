"""The checks of a config's `analysis` settings (the figures' choices of datasets, rounds, seeds and
training overrides) against the rest of it: each failure names its key."""

from . import appendix, config


def check(cfg, an, fail):
    """The analysis settings `an` (config.analysis) against the rest of the config; `fail(key, message)` raises."""
    known = cfg["transfer"]["datasets"]
    if an["fig4"]["init"] not in cfg["pretrain"]:
        fail("analysis.fig4.init", f"unknown pre-training {an['fig4']['init']!r}; defined: {sorted(cfg['pretrain'])}")
    for fig in ("fig4", "fig5", "table_a2"):
        for i, name in enumerate(an[fig]["datasets"]):
            if name not in known:
                fail(f"analysis.{fig}.datasets[{i}]", f"{name!r} is not in transfer.datasets {known}")
    for fig in ("fig6", "fig7"):
        if an[fig]["dataset"] not in known:
            fail(f"analysis.{fig}.dataset", f"{an[fig]['dataset']!r} is not in transfer.datasets {known}")
    if an["fig6"]["round"] not in config.rounds(cfg):
        fail("analysis.fig6.round", f"round {an['fig6']['round']} is not among the transferred rounds {config.rounds(cfg)}")
    if an["fig6"]["seed"] not in cfg["seeds"]:
        fail("analysis.fig6.seed", f"seed {an['fig6']['seed']} is not in seeds {cfg['seeds']}")
    if an["fig7"]["data"] not in config.data_labels(cfg):
        fail("analysis.fig7.data", f"{an['fig7']['data']!r} is not one of {config.data_labels(cfg)}")
    if an["fig7"]["data"] != "full" and "standard" not in config.data_limited_regimes(cfg):
        fail("analysis.fig7.data", f"{an['fig7']['data']!r} has no double-win verdict: data-limited transfer runs "
             "only the regimes in transfer.data_limited_regimes; add standard there or use full")
    k = an["fig7"]["round"]
    if k > cfg["imp"]["rounds"]:
        fail("analysis.fig7.round", f"round {k} is beyond imp.rounds = {cfg['imp']['rounds']}: Fig. 7 compares "
             "the IMP tickets of one round that every pre-training reaches")
    if k not in config.rounds(cfg):
        fail("analysis.fig7.round", f"round {k} is not among the transferred rounds {config.rounds(cfg)}, so no "
             "double-win verdict exists for it")
    for fig, regime in (("table_a2", "adversarial"), ("fig6", an["fig6"]["regime"]), ("fig2", an["fig2"]["regime"])):
        config.check_train(cfg["transfer"]["regimes"][regime] | an[fig]["train"], f"analysis.{fig}.train", fail)
    appendix.check(cfg, an, fail)
