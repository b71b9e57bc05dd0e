"""Shared command-line plumbing of the thin scripts: --spec JSON, threads, logging."""

import argparse
import json
import os
import sys

import torch


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--spec", required=True, help="job settings as JSON (the Snakefile writes it)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("SNAKEMAKE_THREADS", "1")))
    return p


def parse(p, argv=None):
    args = p.parse_args(argv)
    args.spec = json.loads(args.spec)
    torch.set_num_threads(max(1, args.threads))
    if os.environ.get("SPARSEROBUST_FLOAT64") == "1":  # exactness tests: float64 everywhere
        torch.set_default_dtype(torch.float64)
    return args


def log(msg):
    print(msg, flush=True)


def main(fn):
    """Run fn(); print a one-line error (no traceback noise) on a known failure and exit 1."""
    try:
        fn()
    except (ValueError, OSError) as err:  # OSError: missing files, a full disk, permissions
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
