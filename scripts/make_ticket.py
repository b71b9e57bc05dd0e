"""One ticket: the dense mask, one IMP round (re-train, prune, rewind) or a random mask."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--weights", required=True)
p.add_argument("--previous", default=None, help="the previous round's ticket (IMP)")
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.make_ticket(args.spec, args.weights, args.previous, args.out, cli.log))
