"""`reelkube tts FILE.yaml`: run a TTSJob manifest locally (narration, timings, subtitles), and
upload the files when the spec names storage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reelkube.api.ttsjob import TTSJob
from reelkube.commands.local_run import ProgressPrinter, add_arguments, run_locally
from reelkube.progress import ProgressCallback

if TYPE_CHECKING:  # the engine and Piper load only when a command runs
    from reelkube.speech.tts import TTSResult


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("tts", help="narrate a TTSJob manifest to local files")
    add_arguments(parser, "TTSJob")
    parser.set_defaults(func=run)


def _execute(job: TTSJob, out_dir: Path, base_dir: Path, on_progress: ProgressCallback) -> TTSResult:
    from reelkube.speech.tts import run_tts_job

    return run_tts_job(job, out_dir, base_dir=base_dir, on_progress=on_progress)


def _summary(result: TTSResult) -> str:
    return (
        f"{result.sentences} sentences, {result.duration:.2f}s of speech, "
        f"words by {result.word_timing_source}, {result.loudness_lufs:.1f} LUFS, {result.seconds:.2f}s wall"
    )


def run(args: argparse.Namespace) -> int:
    return run_locally(args, TTSJob, _execute, ProgressPrinter(sys.stderr), _summary)
