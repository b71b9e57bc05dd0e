"""Fig. 6: re-run one transfer keeping its checkpoints (the training trajectory)."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--weights", required=True)
p.add_argument("--ticket", required=True)
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.trajectory(args.spec, args.weights, args.ticket, args.out, cli.log))
