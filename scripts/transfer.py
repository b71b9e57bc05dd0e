"""Train one ticket on a downstream dataset (standard or adversarial) and write its test metrics."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--weights", required=True)
p.add_argument("--ticket", required=True)
p.add_argument("--attack-source", default=None, help="Table A2's robust source model")
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.transfer(args.spec, args.weights, args.ticket, args.out, cli.log, args.attack_source))
