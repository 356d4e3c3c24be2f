"""`reelkube job --resource FILE`: the entry point of a render pod (see reelkube.runner.run)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from reelkube.runner.run import run_resource


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "job", help="run one RenderJob/TTSJob inside its pod: render, upload, report progress"
    )
    parser.add_argument(
        "--resource", required=True, type=Path, help="the resource as JSON (mounted by the operator)"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(os.environ.get("REELKUBE_WORK_DIR", "/work")),
        help="scratch directory for inputs and outputs (default: $REELKUBE_WORK_DIR or /work)",
    )
    parser.add_argument(
        "--no-status", action="store_true", help="log progress instead of patching the resource's status"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=os.environ.get("REELKUBE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    return run_resource(args.resource, work_dir=args.work_dir, use_cluster=not args.no_status)
