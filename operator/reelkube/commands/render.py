"""`reelkube render FILE.yaml`: render a RenderJob manifest to local files (and upload them
when the spec names storage)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reelkube.api.renderjob import RenderJob
from reelkube.commands.local_run import ProgressPrinter, add_arguments, run_locally
from reelkube.progress import ProgressCallback

if TYPE_CHECKING:  # the engine and Piper load only when a command runs
    from reelkube.engine.render import RenderResult


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("render", help="render a RenderJob manifest to local files")
    add_arguments(parser, "RenderJob")
    parser.set_defaults(func=run)


def _execute(job: RenderJob, out_dir: Path, base_dir: Path, on_progress: ProgressCallback) -> RenderResult:
    from reelkube.jobs import render_job

    return render_job(job, out_dir, base_dir=base_dir, on_progress=on_progress)


def _summary(result: RenderResult) -> str:
    return (
        f"{result.frames} frames, {result.duration:.2f}s, {result.encoder}, {result.wall_seconds:.2f}s wall"
    )


def run(args: argparse.Namespace) -> int:
    return run_locally(args, RenderJob, _execute, ProgressPrinter(sys.stderr), _summary)
