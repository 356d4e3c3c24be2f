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
    parser.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        help=(
            "ffmpeg processes that render one video at once, each a window of its frames, joined "
            "without re-encoding (MP4 only). auto (default): one per core when the video is long "
            "enough (at least 10 s per window), else 1"
        ),
    )
    parser.set_defaults(func=run)


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {count}")
    return count


def _summary(result: RenderResult) -> str:
    return (
        f"{result.frames} frames, {result.duration:.2f}s, {result.encoder}, {result.wall_seconds:.2f}s wall"
    )


def run(args: argparse.Namespace) -> int:
    from reelkube.engine.probe import list_demuxers_early

    # ffprobe lists its demuxers on another core while this one reads the manifest.
    list_demuxers_early()
    from reelkube.engine.render import LOCAL_WORKERS

    token = LOCAL_WORKERS.set(getattr(args, "workers", "auto"))
    try:
        return run_manifest(args, RenderJob, _summary)
    finally:
        LOCAL_WORKERS.reset(token)
