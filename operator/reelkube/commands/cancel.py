"""`reelkube cancel NAME...`: set ``spec.cancel: true`` and wait until each resource has ended
(Canceled, or whatever it reached first), unless ``--no-wait``.

Exit codes: 0 every one ended Canceled (or already had ended), 1 a cancel was refused or a
name is unknown, 4 the wait timed out.
"""

from __future__ import annotations

import argparse
import sys

from reelkube.cli import EXIT_FAILED, EXIT_OK
from reelkube.commands.submit import (
    EXIT_INTERRUPTED,
    EXIT_TIMEOUT,
    add_cluster_arguments,
    connect,
    parse_duration,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cancel", help="stop RenderJobs/TTSJobs (spec.cancel)", description=__doc__
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="NAME or KIND/NAME")
    add_cluster_arguments(parser)
    parser.add_argument("--no-wait", action="store_true", help="return once the cancel is recorded")
    parser.add_argument("--timeout", type=parse_duration, default=120.0, metavar="D", help="wait at most D")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kubernetes.client.exceptions import ApiException

    from reelkube.client import ClientError, Handle
    from reelkube.client.waiting import OUTCOME_ERROR, OUTCOME_TIMEOUT, wait_all
    from reelkube.commands.get import split_name
    from reelkube.commands.submit import api_message

    client = connect(args)
    code = EXIT_OK
    handles: list[Handle] = []
    for text in args.names:
        kind, name = split_name(text)
        try:
            snapshot = client.get(name, args.namespace, kind)
            if snapshot.done:
                print(f"{name}: already {snapshot.phase}")
                continue
            handle = Handle(client, client.cancel(name, snapshot.namespace, snapshot.kind))
        except ClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = EXIT_FAILED
            continue
        except ApiException as exc:
            print(f"error: {name}: the API server refused the cancel: {api_message(exc)}", file=sys.stderr)
            code = EXIT_FAILED
            continue
        print(f"{handle.kind.singular}.reelkube.io/{name} cancel requested")
        handles.append(handle)
    if args.no_wait or not handles:
        return code
    try:
        outcomes = wait_all(handles, args.timeout)
    except KeyboardInterrupt:
        print("\nstopped waiting; the cancels stand", file=sys.stderr)
        return EXIT_INTERRUPTED
    for outcome in outcomes:
        if outcome.result == OUTCOME_TIMEOUT:
            print(f"{outcome.handle.name}: still {outcome.handle.last.phase} after {args.timeout:g}s")
            code = EXIT_TIMEOUT if code == EXIT_OK else code
        elif outcome.result == OUTCOME_ERROR:
            print(f"error: {outcome.handle.name}: {outcome.error}", file=sys.stderr)
            code = EXIT_FAILED
        else:
            status = outcome.handle.last.status
            reason = f" ({status.reason})" if status.reason else ""
            print(f"{outcome.handle.name}: {status.phase}{reason}")
    return code
