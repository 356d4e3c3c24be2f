"""`reelkube render FILE.yaml`: render a RenderJob manifest to local files (and upload them
when the spec names storage)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from reelkube.api.renderjob import RenderJob
from reelkube.commands.terminal import add_arguments, run_manifest

if TYPE_CHECKING:  # the engine loads only when a command runs
    from reelkube.engine.render import RenderResult


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("render", help="render a RenderJob manifest to local files")
    add_arguments(parser, "RenderJob")
    parser.set_defaults(func=run)


def _summary(result: RenderResult) -> str:
    return (
        f"{result.frames} frames, {result.duration:.2f}s, {result.encoder}, {result.wall_seconds:.2f}s wall"
    )


def run(args: argparse.Namespace) -> int:
    return run_manifest(args, RenderJob, _summary)
