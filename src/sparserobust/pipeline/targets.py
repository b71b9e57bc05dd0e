"""The figures and tables a config defines, and those its `all` target builds (`targets`)."""

DOUBLE_WIN = ("fig2", "fig3", "fig4", "fig5", "fig6", "figA9", "fig7", "figA8", "tableA2", "table_doublewin")
SWT_FIGURES = {"swt_overfitting": "swt_curves", "swt_density": "swt_curves", "swt_gap": "swt_main",
               "swt_table": "swt_main", "swt_abstract": "swt_abstract"}


def figures(cfg):
    """{figure: the collected table it is drawn from}: figures/NAME.pdf <- <results>/tables/TABLE.csv,
    for every figure and table this config defines (Fig. A10 and Part B only when configured)."""
    from . import appendix

    out = {name: name for name in DOUBLE_WIN}
    if appendix.has_figA10(cfg):
        out["figA10"] = "figA10"
    if "swt" in cfg:
        out |= SWT_FIGURES
    return out


def targets(cfg):
    """The figures `all` builds: `targets` when the config lists them, else every one it defines."""
    return cfg.get("targets") or list(figures(cfg))


def double_win_runs(cfg):
    """The run tables the double-win verdicts judge: Fig. 3's, and Fig. 4's and Fig. 5's when
    `all` builds those figures (targets)."""
    return ["fig3"] + [name for name in ("fig4", "fig5") if name in targets(cfg)]
