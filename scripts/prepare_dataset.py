"""Download (download: true) or verify one dataset, and write the manifest training jobs take as input."""

import _path  # noqa: F401

from sparserobust.data import prepare
from sparserobust.pipeline import cli

p = cli.parser(__doc__)
p.add_argument("--checksums", choices=["official", "skip"], default="official")
p.add_argument("--out", required=True, help="the dataset's manifest (JSON)")
args = cli.parse(p)
cli.main(lambda: prepare.dataset(args.spec, args.checksums, args.out, cli.log))
