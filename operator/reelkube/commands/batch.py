"""`reelkube batch TEMPLATE.yaml ROWS.csv|ROWS.json`: one RenderJob per data row.

TEMPLATE is a RenderJob manifest naming a template (``spec.template``); each row's columns fill
its props, typed by the template's props model (numbers, booleans, lists as ``a;b;c``). Every
row is checked first and the bad ones are reported by row and column before anything is created;
the good rows are then created with the label ``reelkube.io/batch: <id>`` (``--strict``: create
nothing when a row is bad). A row that fails to create or render does not stop the others. The
summary table gives each row's outcome and output URL.

Exit codes: 0 every row Succeeded (or was created, without ``--wait``), 1 a row failed, 2 a row
was invalid (or the template or rows file is), 3 a row was Canceled, 4 the wait timed out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reelkube.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from reelkube.commands.get import print_table
from reelkube.commands.submit import (
    add_cluster_arguments,
    api_message,
    connect,
    parse_duration,
    wait_and_report,
)
from reelkube.errors import SpecError

if TYPE_CHECKING:
    from reelkube.client import Handle
    from reelkube.client.batch import BatchPlan

SUMMARY_COLUMNS = ("ROW", "NAME", "OUTCOME", "DETAIL", "OUTPUT")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="one RenderJob per CSV/JSON row, props filled from the columns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("template", type=Path, metavar="TEMPLATE.yaml", help="RenderJob with spec.template")
    parser.add_argument(
        "rows", type=Path, metavar="ROWS", help="ROWS.csv (header row) or ROWS.json (objects)"
    )
    add_cluster_arguments(parser)
    parser.add_argument("--name-from", metavar="COLUMN", help="name each resource from this column")
    parser.add_argument("--dry-run", action="store_true", help="check the rows and show them; create nothing")
    parser.add_argument("--strict", action="store_true", help="create nothing when any row is bad")
    parser.add_argument("--wait", action="store_true", help="follow every row until it ends")
    parser.add_argument("--download", type=Path, metavar="DIR", help="download outputs to DIR/<name> (waits)")
    parser.add_argument("--timeout", type=parse_duration, metavar="D", help="give up waiting after D")
    parser.add_argument("-o", "--output", choices=("json",), help="print the summary as JSON")
    parser.set_defaults(func=run)


def load_plan(args: argparse.Namespace) -> BatchPlan:
    """Read the template and rows and check every row (SpecError when a file itself is bad)."""
    from reelkube.client.batch import plan_batch, read_rows
    from reelkube.manifest import read_document

    template = read_document(args.template)
    return plan_batch(template, read_rows(args.rows), name_from=args.name_from)


def run(args: argparse.Namespace) -> int:
    from kubernetes.client.exceptions import ApiException

    from reelkube.client import ClientError

    try:
        plan = load_plan(args)
    except SpecError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for problem in plan.problems:
        print(f"error: {args.rows}: {problem}", file=sys.stderr)
    if plan.problems:
        print(
            f"{len(plan.bad_rows)} bad row(s): {', '.join(map(str, plan.bad_rows))}; "
            f"{len(plan.rows)} good row(s)",
            file=sys.stderr,
        )
    summary = {row: _invalid_row(plan, row) for row in plan.bad_rows}
    if args.dry_run or (args.strict and plan.problems):
        for row in plan.rows:
            summary[row.row] = [str(row.row), row.name, "Valid", json.dumps(row.body["spec"]["props"]), ""]
        _print_summary(plan.batch_id, summary, args)
        return EXIT_BAD_INPUT if plan.problems else EXIT_OK
    client = connect(args)
    handles: list[Handle] = []
    row_of: dict[str, int] = {}
    failed_to_create = False
    for row in plan.rows:
        try:
            # Files beside the template (or named by a row) are uploaded once, by content.
            handle = client.submit(row.body, namespace=args.namespace, base_dir=args.template.parent)
        except ApiException as exc:
            summary[row.row] = [str(row.row), row.name, "NotCreated", api_message(exc), ""]
            failed_to_create = True
            continue
        except ClientError as exc:
            summary[row.row] = [str(row.row), row.name, "NotCreated", f"cannot upload: {exc}", ""]
            failed_to_create = True
            continue
        handles.append(handle)
        row_of[handle.name] = row.row
        summary[row.row] = [str(row.row), row.name, "Created", "", ""]
    print(
        f"batch {plan.batch_id}: {len(handles)} created (label reelkube.io/batch={plan.batch_id})",
        file=sys.stderr,
    )
    code = EXIT_OK
    if handles and (args.wait or args.download):
        code, outcomes = wait_and_report(handles, args, quiet=True)
        for outcome in outcomes:
            snapshot = outcome.snapshot or outcome.handle.last
            primary = snapshot.outputs.get(snapshot.kind.primary_output)
            detail = "" if outcome.result == "Succeeded" else str(outcome.error or "")
            summary[row_of[outcome.handle.name]] = [
                str(row_of[outcome.handle.name]),
                outcome.handle.name,
                outcome.result,
                detail,
                (primary.url or primary.uri) if primary else "",
            ]
        if not outcomes:  # Ctrl-C: the renders go on
            return code
    _print_summary(plan.batch_id, summary, args)
    if failed_to_create:
        return EXIT_FAILED
    if code != EXIT_OK:
        return code
    return EXIT_BAD_INPUT if plan.problems else EXIT_OK


def _invalid_row(plan: BatchPlan, row: int) -> list[str]:
    """The summary cells of a refused row: every problem, by column."""
    problems = [p for p in plan.problems if p.row == row]
    detail = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in problems)
    return [str(row), "", "Invalid", detail, ""]


def _print_summary(batch_id: str, summary: dict[int, list[str]], args: argparse.Namespace) -> None:
    rows = [summary[row] for row in sorted(summary)]
    if args.output == "json":
        items = [dict(zip((c.lower() for c in SUMMARY_COLUMNS), row, strict=True)) for row in rows]
        print(json.dumps({"batch": batch_id, "rows": items}, indent=2))
        return
    print_table(SUMMARY_COLUMNS, rows)
