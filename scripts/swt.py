"""Sparsity Winning Twice: one adversarial training run from scratch (dense, Robust Bird,
Flying Bird or Flying Bird+, optionally with KD + SWA)."""

import _path  # noqa: F401

from sparserobust.pipeline import cli
from sparserobust.sparse import swt

p = cli.parser(__doc__)
p.add_argument("--out", required=True)
p.add_argument("--model-out", default=None, help="keep the selected model (the dense teacher)")
p.add_argument("--teacher", default=None, help="dense robust teacher for knowledge distillation")
args = cli.parse(p)
cli.main(lambda: swt.run(args.spec, args.out, cli.log, args.teacher, args.model_out))
