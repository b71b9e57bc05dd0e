"""Sparsity Winning Twice: one training run from scratch (dense, Robust Bird, Flying Bird or
Flying Bird+, optionally with distillation + SWA; or the standard teacher)."""

import _path  # noqa: F401

from sparserobust.pipeline import cli
from sparserobust.sparse import swt

p = cli.parser(__doc__)
p.add_argument("--out", required=True)
p.add_argument("--model-out", default=None, help="keep the selected model (a teacher)")
p.add_argument("--teacher", action="append", default=[],
               help="a distillation teacher's model file; standard first, then adversarial")
args = cli.parse(p)
cli.main(lambda: swt.run(args.spec, args.out, cli.log, args.teacher, args.model_out))
