"""Every ticket's mask of a config in one archive (numpy .npz with a JSON manifest): see
sparserobust.lottery.export for the layout and the README for loading one mask."""

import argparse

import _path  # noqa: F401

from sparserobust.lottery import export
from sparserobust.pipeline import cli

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--out", required=True)
p.add_argument("--config-name", default=None, help="recorded in the manifest's provenance")
p.add_argument("tickets", nargs="+")
args = p.parse_args()


def run():
    manifest = export.export(args.tickets, args.out, {"name": args.config_name})
    cli.log(f"{args.out}: {len(manifest['tickets'])} tickets")


cli.main(run, device=False)
