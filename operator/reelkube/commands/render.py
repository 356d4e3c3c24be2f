"""`reelkube render FILE.yaml`: render a RenderJob manifest to local files."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from reelkube.api.status import Step
from reelkube.api.ttsjob import TTSJob
from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import Canceled, ReelkubeError, SpecError
from reelkube.progress import ProgressEvent

EXIT_CANCELED = 130


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("render", help="render a RenderJob manifest to local files")
    parser.add_argument("manifest", type=Path, help="RenderJob YAML file")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON result object on stdout")
    parser.set_defaults(func=run)


class ProgressPrinter:
    """A bar redrawn in place on a terminal; plain lines (every 10%, each step) elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.step: Step | None = None
        self.next_percent = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if self.tty:
            filled = int(event.percent / 5)
            eta = f" eta {event.eta_seconds:.0f}s" if event.eta_seconds else ""
            frames = f" {event.frame}/{event.total_frames}" if event.total_frames else ""
            line = f"\r{event.step.value:<11} [{'#' * filled:<20}] {event.percent:5.1f}%{frames}{eta}"
            self.stream.write(line.ljust(72))
            if event.percent >= 100:
                self.stream.write("\n")
            self.stream.flush()
            return
        if event.step != self.step:
            self.step, self.next_percent = event.step, 0.0
        if event.percent >= self.next_percent:
            frames = f" frame={event.frame}/{event.total_frames}" if event.total_frames else ""
            print(f"{event.step.value} {int(event.percent)}%{frames}", file=self.stream, flush=True)
            self.next_percent = (event.percent // 10 + 1) * 10


def _cancel(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one cancellation is enough
    raise Canceled(f"render canceled by {signal.Signals(signum).name}")


def run(args: argparse.Namespace) -> int:
    from reelkube.engine.manifest import load_manifest
    from reelkube.engine.render import render_job

    try:
        job = load_manifest(args.manifest)
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(job, TTSJob):
        print(f"error: {args.manifest} is a TTSJob; run `reelkube tts {args.manifest}`", file=sys.stderr)
        return EXIT_BAD_INPUT
    out_dir = args.out or Path("out") / job.metadata.name
    started = time.monotonic()
    # SIGTERM outside ffmpeg (e.g. while downloading) unwinds too, so scratch files are removed.
    previous = signal.signal(signal.SIGTERM, _cancel)
    try:
        result = render_job(
            job, out_dir, base_dir=args.manifest.resolve().parent, on_progress=ProgressPrinter(sys.stderr)
        )
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Canceled as exc:
        print(f"canceled: {exc.message}", file=sys.stderr)
        return EXIT_CANCELED
    except ReelkubeError as exc:
        print(f"error ({exc.reason}): {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        summary = result.as_dict()
        summary["wallSeconds"] = round(time.monotonic() - started, 3)
        summary["size"] = sum(a.size for a in result.outputs.values())
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    for name, artifact in result.outputs.items():
        print(f"{name}: {artifact.path} ({artifact.size} bytes)")
    print(
        f"{result.frames} frames, {result.duration:.2f}s, {result.encoder}, {result.wall_seconds:.2f}s wall"
    )
    return EXIT_OK
