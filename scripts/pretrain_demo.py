"""Demo only: pre-train the small ResNet on the demo source task; writes the published layout."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stages.pretrain_demo(args.spec, args.out, cli.log))
