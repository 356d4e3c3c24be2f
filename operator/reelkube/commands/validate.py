"""`reelkube validate FILE.yaml`: report every problem in a manifest, each with its field path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reelkube.cli import EXIT_BAD_INPUT, EXIT_OK
from reelkube.errors import SpecError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("validate", help="check a RenderJob or TTSJob manifest")
    parser.add_argument("manifests", type=Path, nargs="+", help="YAML files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reelkube.manifest import manifest_errors, read_document

    status = EXIT_OK
    for path in args.manifests:
        try:
            document = read_document(path)
        except SpecError as exc:
            print(f"{path}: {exc.message}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        errors = manifest_errors(document)
        if errors:
            status = EXIT_BAD_INPUT
            print(f"{path}: {len(errors)} problem{'s' if len(errors) > 1 else ''}", file=sys.stderr)
            for error in errors:
                print(f"  {error}", file=sys.stderr)
        else:
            print(f"{path}: valid {document.get('kind')}")
    return status
