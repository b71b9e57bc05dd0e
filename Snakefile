# Sparse and robust deep learning: the Double-Win Lottery Tickets pipeline as file targets.
#   snakemake --cores all figures/fig3.pdf                          (paper config: config.yaml)
#   snakemake --cores 2 --configfile config/demo.yaml figures/fig3.pdf   (the embedded demo)
# The rules in workflow/rules/ only wire files to scripts/; the logic lives in src/sparserobust.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sparserobust.pipeline import (
    appendix,
    config as cfg_mod,
    jobs,
    targets as figure_targets,
)  # noqa: E402

# config.yaml is the default; a --configfile (e.g. config/demo.yaml) replaces it instead of
# being merged into it, so the demo never inherits a paper URL or checksum.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


try:
    cfg_mod.validate(config)
except cfg_mod.ConfigError as err:
    sys.exit(
        f"{err}\n(config files: {', '.join(map(str, workflow.configfiles)) or 'none'})"
    )

R = config["results"]
INITS = list(config["pretrain"])
ROUNDS = [k for k in cfg_mod.rounds(config) if k > 0]
SEEDS = config["seeds"]
REGIMES = list(cfg_mod.REGIMES)
CONDA_ENV = "../../envs/sparserobust.yaml"
FIG = config.get("figures", "figures")
# figure (figures/NAME.pdf) -> the collected table it is drawn from (<results>/tables/TABLE.csv);
# TARGETS: those `all` builds (config `targets`, default every one)
FIGURES = figure_targets.figures(config)
TARGETS = figure_targets.targets(config)

for init, entry in config["pretrain"].items():
    if not entry.get("url") and not entry.get("path") and "train" not in entry:
        print(
            f"warning: pretrain.{init} has no url and no path: its fetch job will fail until you "
            f"set pretrain.{init}.path (see README, 'Pre-trained weights')",
            file=sys.stderr,
        )


wildcard_constraints:
    init="|".join(INITS),
    pruner="|".join(cfg_mod.PRUNERS),
    round=r"\d+",
    dataset="|".join(config["datasets"]),
    data=r"full|frac[0-9.e-]+",
    surface="clean|pgd",
    regime="|".join(REGIMES),
    study="|".join(cfg_mod.STUDIES),
    seed=r"\d+",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/tickets.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/swt.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/audit.smk"


rule all:
    default_target: True
    input:
        expand(f"{FIG}/{{name}}.pdf", name=TARGETS),
        f"{R}/tables/audit.csv",
    localrule: True
