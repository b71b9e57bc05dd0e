"""Fig. 6 / A9: loss landscape grids (random and PCA planes) and the projected trajectory."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--trajectory", required=True)
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.landscape(args.spec, args.trajectory, args.out, cli.log))
