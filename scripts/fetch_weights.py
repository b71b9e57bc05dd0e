"""Download (or take the local path of) one pre-trained model, verify its sha256, convert it."""

import _path  # noqa: F401

from sparserobust.pipeline import cli, stages

p = cli.parser(__doc__)
p.add_argument("--out", required=True, help="canonical weights file")
p.add_argument("--download-dir", required=True)
args = cli.parse(p)
cli.main(lambda: stages.fetch(args.spec, args.out, args.download_dir, cli.log), device=False)
