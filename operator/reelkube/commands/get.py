"""`reelkube get [NAME]`: RenderJobs and TTSJobs as a table, like `kubectl get`, with queue
position and progress; ``-w`` adds a row for each change as the watch reports it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from reelkube.cli import EXIT_FAILED, EXIT_OK
from reelkube.commands.submit import EXIT_INTERRUPTED, add_cluster_arguments, connect, print_resources

if TYPE_CHECKING:
    from rich.console import Console

    from reelkube.api.kinds import ResourceKind
    from reelkube.client import Client, Snapshot

COLUMNS = ("NAME", "KIND", "PHASE", "QUEUE", "STEP", "PROGRESS", "FRAMES", "ETA", "AGE")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "get", help="list RenderJobs and TTSJobs with queue position and progress", description=__doc__
    )
    parser.add_argument("name", nargs="?", help="NAME or KIND/NAME (e.g. rj/my-reel)")
    add_cluster_arguments(parser)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument("-l", "--selector", help="label selector (e.g. reelkube.io/batch=...)")
    parser.add_argument("-w", "--watch", action="store_true", help="then print a row per change")
    parser.add_argument("-o", "--output", choices=("json", "yaml", "name"), help="print resources instead")
    parser.add_argument(
        "--download", type=Path, metavar="DIR", help="download NAME's outputs to DIR/<name> (checked)"
    )
    parser.set_defaults(func=run)


def split_name(text: str) -> tuple[ResourceKind | None, str]:
    """``rj/reel`` -> (RenderJob, ``reel``); a bare name has no kind."""
    from reelkube.client.resources import kind_for

    if "/" in text:
        kind, _, name = text.partition("/")
        return kind_for(kind), name
    return None, text


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """``42s``, ``5m``, ``3h``, ``2d`` since an RFC 3339 time, as kubectl shows age."""
    if not timestamp:
        return ""
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def table_row(snapshot: Snapshot, *, namespace: bool = False, now: datetime | None = None) -> list[str]:
    """The cells of ``snapshot``'s row, in COLUMNS order (NAMESPACE first with ``namespace``)."""
    from reelkube.client.progress_line import progress_view

    view = progress_view(snapshot.status)
    phase = view.phase + (" (canceling)" if snapshot.cancel_requested and not snapshot.done else "")
    cells = [
        snapshot.name,
        snapshot.kind.kind,
        phase,
        view.queue,
        view.step,
        view.percent,
        view.frames,
        view.eta,
        age(snapshot.body["metadata"].get("creationTimestamp"), now),
    ]
    return [snapshot.namespace, *cells] if namespace else cells


SHORT_COLUMN_CHARS = 40
"""A column whose cells are all at most this long is never narrowed: long cells (a presigned
URL, an error message) are cut at the width left to them instead of squeezing the names out."""


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    stream: TextIO | None = None,
    *,
    console: Console | None = None,
) -> None:
    """A kubectl-style table: drawn with rich on a terminal (or ``console``), plain aligned
    columns otherwise."""
    stream = stream or sys.stdout
    if console is not None or stream.isatty():
        from rich.console import Console
        from rich.table import Table

        console = console or Console(file=stream)
        widths = [
            max([len(header), *(len(str(row[index])) for row in rows if index < len(row))])
            for index, header in enumerate(headers)
        ]
        long_columns = sum(1 for w in widths if w > SHORT_COLUMN_CHARS)
        # What the short columns (and a space between columns) leave is shared by the long ones.
        spare = console.width - sum(w for w in widths if w <= SHORT_COLUMN_CHARS) - len(headers)
        share = max(SHORT_COLUMN_CHARS, spare // long_columns) if long_columns else None
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header, widest in zip(headers, widths, strict=True):
            short = widest <= SHORT_COLUMN_CHARS
            table.add_column(
                header, no_wrap=True, overflow="ellipsis",
                min_width=widest if short else None, max_width=None if short else share,
            )  # fmt: skip
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        print("   ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip(), file=stream)


def download(client: Client, snapshots: Sequence[Snapshot], directory: Path) -> int:
    """``get NAME --download DIR``: the outputs of one finished resource, checked."""
    from reelkube.client import ClientError, Handle

    if len(snapshots) != 1 or not snapshots[0].done:
        what = "one NAME" if len(snapshots) != 1 else f"a finished resource ({snapshots[0].phase})"
        print(f"error: --download needs {what}", file=sys.stderr)
        return EXIT_FAILED
    snapshot = snapshots[0]
    try:
        saved = Handle(client, snapshot).download(directory / snapshot.name)
    except (ClientError, OSError) as exc:
        print(f"error: {snapshot.name}: download failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for output, path in saved.items():
        print(f"{snapshot.name}: {output} -> {path}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from reelkube.client import ClientError

    client = connect(args)
    kind, name = split_name(args.name) if args.name else (None, None)
    headers = (("NAMESPACE",) if args.all_namespaces else ()) + COLUMNS
    try:
        if name:
            snapshots = [client.get(name, args.namespace, kind)]
        else:
            snapshots = client.list(
                args.selector,
                args.namespace,
                all_namespaces=args.all_namespaces,
                kinds=[kind] if kind else None,
            )
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.download:
        return download(client, snapshots, args.download)
    if args.output:
        print_resources([s.body for s in snapshots], args.output)
    elif snapshots or args.watch:
        print_table(headers, [table_row(s, namespace=args.all_namespaces) for s in snapshots])
    else:
        print("No resources found.", file=sys.stderr)
    if not args.watch:
        return EXIT_OK
    # The watch starts with every current resource (ADDED): those already in the table are
    # skipped unless they changed meanwhile.
    shown = {(s.kind.kind, s.namespace, s.name): s.resource_version for s in snapshots}
    try:
        for _event, snapshot in client.watch(
            args.selector,
            args.namespace,
            all_namespaces=args.all_namespaces,
            kinds=[snapshots[0].kind] if name else ([kind] if kind else None),
            name=name,
        ):
            key = (snapshot.kind.kind, snapshot.namespace, snapshot.name)
            if shown.pop(key, None) == snapshot.resource_version:
                continue
            if args.output == "json":
                print(json.dumps(snapshot.body), flush=True)
            elif args.output:
                print_resources([snapshot.body], args.output)
            else:
                print("   ".join(table_row(snapshot, namespace=args.all_namespaces)), flush=True)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK
