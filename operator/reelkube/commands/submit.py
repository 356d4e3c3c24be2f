"""`reelkube submit FILE...`: create resources in the cluster, and with ``--wait`` follow them.

With ``--wait`` each resource gets one live line (phase, step, percent, frames, ETA, queue
position) fed by a watch: rich lines on a terminal, plain lines otherwise. Exit codes: 0 all
Succeeded, 1 one Failed (or a create, the wait or a download went wrong), 2 a bad manifest (then
nothing is created), 3 one was Canceled, 4 the wait timed out, 130 Ctrl-C (the renders go on).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.errors import SpecError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from reelkube.api.status import ResourceStatus
    from reelkube.client import Client, Handle
    from reelkube.client.waiting import Outcome

EXIT_CANCELED = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130
OUTPUT_FORMATS = ("json", "yaml", "name")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1h30m`` (argparse type)."""
    match = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 10m, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def exit_code(results: Sequence[str]) -> int:
    """One exit code for several outcomes: the worst wins (Failed or Error, then Canceled, then
    Timeout); 0 only when every one Succeeded."""
    from reelkube.client.waiting import (
        OUTCOME_CANCELED,
        OUTCOME_ERROR,
        OUTCOME_FAILED,
        OUTCOME_SUCCEEDED,
        OUTCOME_TIMEOUT,
    )

    if any(r in (OUTCOME_FAILED, OUTCOME_ERROR) for r in results):
        return EXIT_FAILED
    if OUTCOME_CANCELED in results:
        return EXIT_CANCELED
    if OUTCOME_TIMEOUT in results:
        return EXIT_TIMEOUT
    return EXIT_OK if all(r == OUTCOME_SUCCEEDED for r in results) else EXIT_FAILED


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``-n/--namespace`` and ``--context``, as kubectl spells them."""
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")


def connect(args: argparse.Namespace) -> Client:
    """The Client for ``--context`` (the user's kubeconfig, as kubectl reads it)."""
    from reelkube.client import Client

    return Client.from_kubeconfig(context=getattr(args, "context", None))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="create RenderJobs/TTSJobs in the cluster and (with --wait) follow them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="manifest (YAML or JSON)")
    add_cluster_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="follow progress until each one ends")
    parser.add_argument("--download", type=Path, metavar="DIR", help="download outputs to DIR/<name> (waits)")
    parser.add_argument(
        "--timeout", type=parse_duration, metavar="D", help="give up waiting after D (90s, 10m)"
    )
    parser.add_argument(
        "-o", "--output", choices=OUTPUT_FORMATS, help="print the resources as json, yaml or names"
    )
    parser.add_argument(
        "--no-upload",
        dest="upload",
        action="store_false",
        help="leave relative paths as written (by default files beside the manifest that the"
        " renderer image does not hold are uploaded to the storage and named by s3:// URI)",
    )
    parser.set_defaults(func=run)


class ProgressLines:
    """One live line per resource: rich on a terminal, else a plain line whenever a resource
    changes phase or step or passes another 10% (what logs and CI read).

    Called from the waiting threads; a lock keeps lines whole. ``console`` replaces the terminal
    (tests pass a recording one).
    """

    def __init__(self, stream: TextIO, names: Sequence[str], *, console: Console | None = None) -> None:
        self.stream = stream
        self.tty = console.is_terminal if console is not None else stream.isatty()
        self._console = console
        self._names = list(names)
        self._lock = threading.Lock()
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, tuple[str, str, int]] = {}

    def __enter__(self) -> ProgressLines:
        if self.tty:
            self._bars = _progress_bars(self._console or _console_for(self.stream))
            width = max((len(n) for n in self._names), default=4)
            for name in self._names:
                self._tasks[name] = self._bars.add_task(
                    name.ljust(width), total=100, phase="Pending", step="", frames="", eta="", queue=""
                )
            self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def update(self, name: str, status: ResourceStatus) -> None:
        """Show ``status`` as ``name``'s line."""
        from reelkube.client.progress_line import progress_line, progress_view

        with self._lock:
            if self._bars is not None:
                view = progress_view(status)
                self._bars.update(
                    self._tasks[name],
                    completed=status.progress or 0,
                    phase=view.phase,
                    step=view.step,
                    frames=f"frames {view.frames}" if view.frames else "",
                    eta=f"eta {view.eta}" if view.eta else "",
                    queue=f"queue {view.queue}" if view.queue else view.detail,
                )
                return
            key = (
                str(status.phase),
                str(status.step),
                (status.progress or 0) // 10,
            )
            if self._last.get(name) != key:
                self._last[name] = key
                print(progress_line(name, status), file=self.stream, flush=True)

    def __call__(self, handle: Handle, status: ResourceStatus) -> None:
        self.update(handle.name, status)


def _console_for(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream)


def _progress_bars(console: Console) -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        TextColumn("{task.fields[phase]:<9}"),
        TextColumn("{task.fields[step]:<11}"),
        BarColumn(bar_width=24),
        TaskProgressColumn(),
        TextColumn("{task.fields[frames]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[queue]}"),
        console=console,
        auto_refresh=True,
        refresh_per_second=4,
    )


def print_resources(bodies: Sequence[dict[str, Any]], output: str, stream: TextIO | None = None) -> None:
    """``-o json`` (one object, or a List), ``-o yaml`` or ``-o name`` (kind.group/name)."""
    stream = stream or sys.stdout
    if output == "name":
        for body in bodies:
            print(f"{body['kind'].lower()}.reelkube.io/{body['metadata']['name']}", file=stream)
        return
    document: dict[str, Any] = (
        bodies[0] if len(bodies) == 1 else {"apiVersion": "v1", "kind": "List", "items": list(bodies)}
    )
    if output == "json":
        print(json.dumps(document, indent=2), file=stream)
    else:
        import yaml

        print(yaml.safe_dump(document, sort_keys=False), end="", file=stream)


def report_outcomes(outcomes: Sequence[Outcome], stream: TextIO | None = None) -> None:
    """Output URLs of each success; reason and message of each failure."""
    stream = stream or sys.stdout
    for outcome in outcomes:
        name = outcome.handle.name
        if outcome.result == "Succeeded" and outcome.snapshot is not None:
            for output, artifact in outcome.snapshot.outputs.items():
                print(f"{name}: {output}: {artifact.url or artifact.uri}", file=stream)
        else:
            print(f"{name}: {outcome.result}: {outcome.error}", file=stream)


def stop_waiting_message(handles: Sequence[Handle]) -> str:
    """What Ctrl-C prints: the renders go on, and the command that would stop them."""
    namespaces = {h.namespace for h in handles}
    where = f" -n {next(iter(namespaces))}" if len(namespaces) == 1 else ""
    names = " ".join(h.name for h in handles)
    return f"stopped waiting; the renders go on. To cancel them: reelkube cancel{where} {names}"


def wait_and_report(
    handles: Sequence[Handle], args: argparse.Namespace, *, quiet: bool = False
) -> tuple[int, list[Outcome]]:
    """Follow ``handles`` with live lines, print outcomes (and download with ``--download``);
    the exit code and the outcomes. Ctrl-C returns 130 and no outcomes."""
    from reelkube.client import ClientError
    from reelkube.client.waiting import wait_all

    try:
        with ProgressLines(sys.stderr, [h.name for h in handles]) as lines:
            outcomes = wait_all(handles, args.timeout, lines)
    except KeyboardInterrupt:
        print(f"\n{stop_waiting_message(handles)}", file=sys.stderr)
        return EXIT_INTERRUPTED, []
    if not quiet:
        report_outcomes(outcomes, sys.stderr if args.output else sys.stdout)
    code = exit_code([o.result for o in outcomes])
    if getattr(args, "download", None):
        for outcome in outcomes:
            if outcome.result != "Succeeded":
                continue
            try:
                saved = outcome.handle.download(args.download / outcome.handle.name)
            except (ClientError, OSError) as exc:
                print(f"{outcome.handle.name}: download failed: {exc}", file=sys.stderr)
                code = EXIT_FAILED
                continue
            for output, path in saved.items():
                print(f"{outcome.handle.name}: {output} -> {path}", file=sys.stderr)
    return code, outcomes


def report_uploads(path: Path, handle: Handle, stream: TextIO | None = None) -> None:
    """One line (stderr) for what submit uploaded for ``path``: how many files were sent, how
    many were there already, and where."""
    report = handle.uploads
    if report is None or not report.rewritten:
        return
    sent, kept = len(report.uploaded), len(report.present)
    print(
        f"{path}: {len(report.rewritten)} local file(s) now named by s3:// URI: {sent} uploaded,"
        f" {kept} already there, in {report.storage}",
        file=stream or sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError as BotoClientError
    from kubernetes.client.exceptions import ApiException

    from reelkube.client import ClientError
    from reelkube.client.resources import resource_body

    bodies = []
    for path in args.files:  # every manifest is checked before anything is created
        try:
            bodies.append(resource_body(path))
        except SpecError as exc:
            print(f"error: invalid manifest {path}:\n{exc.message}", file=sys.stderr)
            return EXIT_BAD_INPUT
    client = connect(args)
    handles = []
    refused = False
    for path, body in zip(args.files, bodies, strict=True):
        # As kubectl does, one refusal (say, a name already taken) does not stop the others.
        try:
            handle = client.submit(
                body, namespace=args.namespace, base_dir=path.parent, upload=getattr(args, "upload", True)
            )
        except ApiException as exc:
            print(f"error: {path}: the API server refused it: {api_message(exc)}", file=sys.stderr)
            refused = True
            continue
        except (ClientError, SpecError, BotoCoreError, BotoClientError) as exc:
            print(f"error: {path}: cannot upload its local files: {exc}", file=sys.stderr)
            refused = True
            continue
        report_uploads(path, handle)
        handles.append(handle)
        if not args.output:
            print(f"{handle.kind.singular}.reelkube.io/{handle.name} created")
    if not handles:
        return EXIT_FAILED
    if not (args.wait or args.download):
        if args.output:
            print_resources([h.last.body for h in handles], args.output)
        return EXIT_FAILED if refused else EXIT_OK
    code, outcomes = wait_and_report(handles, args)
    if args.output and outcomes:
        print_resources([(o.snapshot or o.handle.last).body for o in outcomes], args.output)
    return EXIT_FAILED if refused and code in (EXIT_OK, EXIT_TIMEOUT, EXIT_CANCELED) else code


def api_message(exc: Exception) -> str:
    """The message of an API server refusal (its Status body), else the exception."""
    body = getattr(exc, "body", None)
    try:
        return str(json.loads(body)["message"]) if body else str(exc)
    except (ValueError, KeyError, TypeError):
        return str(exc)
