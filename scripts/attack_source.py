"""Table A2: train the robust source model (from scratch) that crafts the transfer attack."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.train_attack_source(args.spec, args.out, cli.log))
