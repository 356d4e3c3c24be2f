"""`reelkube tts FILE.yaml`: run a TTSJob manifest locally (narration, timings, subtitles), and
upload the files when the spec names storage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from reelkube.api.ttsjob import TTSJob
from reelkube.commands.terminal import add_arguments, run_manifest

if TYPE_CHECKING:  # Piper loads only when a command runs
    from reelkube.speech.tts import TTSResult


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("tts", help="narrate a TTSJob manifest to local files")
    add_arguments(parser, "TTSJob")
    parser.set_defaults(func=run)


def _summary(result: TTSResult) -> str:
    return (
        f"{result.sentences} sentences, {result.duration:.2f}s of speech, "
        f"words by {result.word_timing_source}, {result.loudness_lufs:.1f} LUFS, {result.seconds:.2f}s wall"
    )


def run(args: argparse.Namespace) -> int:
    return run_manifest(args, TTSJob, _summary)
