"""`reelkube crds`: write (or check) the generated CRDs in `crds/` and the chart's copy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reelkube.api.crd import crd_files

# The chart ships its own copy (Helm installs CRDs only from the chart's crds/ directory).
DEFAULT_DIRS = [Path("crds"), Path("charts/reelkube/crds")]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("crds", help="generate the CRD YAML from the API models")
    parser.add_argument(
        "--dir", action="append", type=Path, dest="dirs",
        help="directory to write (repeatable; default: crds and charts/reelkube/crds)",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from the models")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stale = []
    for directory in args.dirs or DEFAULT_DIRS:
        for name, text in crd_files().items():
            path = directory / name
            if args.check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date with the models (run `reelkube crds`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0
