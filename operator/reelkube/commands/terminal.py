"""What `reelkube render` and `reelkube tts` share: load the manifest, run it through the
pipeline (:mod:`reelkube.pipeline.run`) with a progress display on the terminal, and print the
result.

Exit codes: 0 done, 1 the work failed (with the cause), 2 bad manifest, 130 canceled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from reelkube.api.renderjob import RenderJob
from reelkube.api.status import OutputArtifact, Step
from reelkube.api.ttsjob import TTSJob
from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import Canceled, ReelkubeError, SpecError
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressEvent

if TYPE_CHECKING:  # rich loads only when a terminal shows the bars
    from rich.console import Console
    from rich.progress import Progress, TaskID

EXIT_CANCELED = 130

Job = RenderJob | TTSJob


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("manifest", type=Path, help=f"{what} YAML file")
    parser.add_argument("-o", "--out", type=Path, help="output directory (default: ./out/<metadata.name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON result object on stdout")
    parser.add_argument(
        "--input-policy",
        choices=INPUT_POLICIES,
        default="local",
        help=(
            "which inputs may be fetched. local (default): any path, file:// URL or address, as "
            "on one's own machine. cluster: what a render pod accepts (http, https and s3 only; "
            "relative paths inside the asset folder, REELKUBE_ASSET_DIR or /opt/reelkube/assets; "
            "loopback, link-local, metadata and private addresses refused unless "
            "REELKUBE_INPUTS_ALLOWED_HOSTS / _ALLOWED_CIDRS allow them; at most 5 redirects)"
        ),
    )


INPUT_POLICIES = ("local", "cluster")


def input_policy_named(name: str) -> InputPolicy:
    """The policy ``--input-policy`` names: the permissive local one, or the render pod's (read
    from the environment, as in the pod)."""
    if name == "cluster":
        return InputPolicy.from_env()
    if name == "local":
        return InputPolicy.local()
    raise ValueError(f"unknown input policy {name!r} (one of {', '.join(INPUT_POLICIES)})")


class ProgressDisplay:
    """Progress for a person: one rich bar per step on a terminal; elsewhere plain lines (every
    10% and each new step), which logs and tests read.

    A context manager: on a terminal the bars are drawn live between enter and exit.
    ``console`` replaces the terminal (a test passes one that records).
    """

    def __init__(self, stream: TextIO, *, console: Console | None = None) -> None:
        self.stream = stream
        self.tty = console.is_terminal if console is not None else stream.isatty()
        self._console = console
        self._bars: Progress | None = None
        self._tasks: dict[Step, TaskID] = {}
        self.step: Step | None = None
        self.next_percent = 0.0

    def __enter__(self) -> ProgressDisplay:
        if self.tty:
            self._bars = _progress_bars(self._console or _console_for(self.stream))
            self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def __call__(self, event: ProgressEvent) -> None:
        if self._bars is not None:
            self._draw(self._bars, event)
            return
        if event.step != self.step:
            self.step, self.next_percent = event.step, 0.0
        if event.percent >= self.next_percent:
            frames = f" frame={event.frame}/{event.total_frames}" if event.total_frames else ""
            print(f"{event.step.value} {int(event.percent)}%{frames}", file=self.stream, flush=True)
            self.next_percent = (event.percent // 10 + 1) * 10

    def output_ready(self, name: str, artifact: OutputArtifact) -> None:
        """One line for an output ready before the run ends (a narrated render's voice-over:
        uploaded, or written to the output directory, while the video still renders)."""
        size = f" ({artifact.size} bytes)" if artifact.size is not None else ""
        line = f"{name} ready: {artifact.uri}{size}"
        if self._bars is not None:
            self._bars.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    def _draw(self, bars: Progress, event: ProgressEvent) -> None:
        if event.step not in self._tasks:
            if self.step is not None:  # steps run one after the other: the last one is over
                bars.update(self._tasks[self.step], completed=100)
            self._tasks[event.step] = bars.add_task(event.step.value, total=100, frames="", eta="")
            self.step = event.step
        bars.update(
            self._tasks[event.step],
            completed=event.percent,
            frames=f"{event.frame}/{event.total_frames}" if event.total_frames else "",
            eta=f"eta {event.eta_seconds:.0f}s" if event.eta_seconds else "",
        )


def _console_for(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream)


def _progress_bars(console: Console) -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    return Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        TextColumn("{task.fields[frames]}"),
        TextColumn("{task.fields[eta]}"),
        console=console,
    )


def run_manifest(args: argparse.Namespace, kind: type[Job], summary: Callable[[Any], str]) -> int:
    """Run the manifest in ``args`` (which must be a ``kind``) here, and print what came out."""
    from reelkube.manifest import load_manifest
    from reelkube.pipeline.cancel import stop_signals_cancel
    from reelkube.pipeline.run import run_resource

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
    try:
        # SIGTERM or Ctrl-C unwinds the run wherever it is: ffmpeg stops, scratch files go.
        with stop_signals_cancel(), ProgressDisplay(sys.stderr) as display:
            outcome = run_resource(
                job,
                out_dir=out_dir,
                base_dir=args.manifest.resolve().parent,
                progress=display,
                uid_fallback="local",
                policy=input_policy_named(args.input_policy),
                on_output=display.output_ready,
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
    result = outcome.result
    uploaded = (
        {name: status.model_dump(mode="json", exclude_none=True) for name, status in outcome.outputs.items()}
        if outcome.uploaded
        else None
    )
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
