"""What `reelkube render` and `reelkube tts` share: load the manifest, run it here with a
progress display, upload the outputs when the spec names storage, and report.

Exit codes: 0 done, 1 the work failed (with the cause), 2 bad manifest, 130 canceled.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from reelkube.api.renderjob import RenderJob
from reelkube.api.status import Step
from reelkube.api.ttsjob import TTSJob
from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import Canceled, ReelkubeError, SpecError
from reelkube.progress import ProgressCallback, ProgressEvent

EXIT_CANCELED = 130

Job = RenderJob | TTSJob
Execute = Callable[[Any, Path, Path, ProgressCallback], Any]
"""(job, out_dir, base_dir, on_progress) -> a result with `outputs` and `as_dict()`."""


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("manifest", type=Path, help=f"{what} YAML file")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON result object on stdout")


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
    raise Canceled(f"canceled by {signal.Signals(signum).name}")


def run_locally(
    args: argparse.Namespace,
    kind: type[Job],
    execute: Execute,
    on_progress: ProgressCallback,
    summary: Callable[[Any], str],
) -> int:
    """Run the manifest in ``args`` (which must be a ``kind``) with ``execute``."""
    from reelkube.manifest import load_manifest

    try:
        job = load_manifest(args.manifest)
    except SpecError as exc:
        print(f"error: invalid manifest {args.manifest}:\n{exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not isinstance(job, kind):
        command = "render" if isinstance(job, RenderJob) else "tts"
        print(
            f"error: {args.manifest} is a {job.kind}; run `reelkube {command} {args.manifest}`",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    out_dir = args.out or Path("out") / job.metadata.name
    started = time.monotonic()
    # SIGTERM outside ffmpeg (e.g. while downloading) unwinds too, so scratch files are removed.
    previous = signal.signal(signal.SIGTERM, _cancel)
    try:
        result = execute(job, out_dir, args.manifest.resolve().parent, on_progress)
        uploaded = _upload(job, result) if job.spec.storage is not None else None
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
        report = result.as_dict()
        report["wallSeconds"] = round(time.monotonic() - started, 3)
        report["size"] = sum(a.size for a in result.outputs.values())
        if uploaded is not None:
            report["uploaded"] = uploaded
        print(json.dumps(report, indent=2))
        return EXIT_OK
    for name, artifact in result.outputs.items():
        where = f" -> {uploaded[name]['uri']}" if uploaded else ""
        print(f"{name}: {artifact.path} ({artifact.size} bytes){where}")
    print(summary(result))
    return EXIT_OK


def _upload(job: Job, result: Any) -> dict[str, dict[str, Any]]:
    """Upload every output to the spec's storage, under the resource's deterministic keys."""
    from reelkube.runner.outputs import upload_outputs

    assert job.spec.storage is not None
    statuses = upload_outputs(
        result.outputs,
        storage=job.spec.storage,
        namespace=job.metadata.namespace,
        name=job.metadata.name,
        uid=job.metadata.uid or "local",
    )
    return {name: status.model_dump(mode="json", exclude_none=True) for name, status in statuses.items()}
