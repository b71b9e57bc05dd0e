"""Fig. A10: fine-tune a Mask R-CNN whose backbone is the ticket (mask kept) on VOC and write its mask / box AP."""

import _path  # noqa: F401

from sparserobust.pipeline import cli
from sparserobust.segmentation import stage

p = cli.parser(__doc__)
p.add_argument("--weights", required=True)
p.add_argument("--ticket", required=True)
p.add_argument("--out", required=True)
args = cli.parse(p)
cli.main(lambda: stage.run(args.spec, args.weights, args.ticket, args.out, cli.log))
