"""The `reelkube` command line. Each subcommand lives in `reelkube.commands.<name>`.

Exit codes: 0 success, 1 the work failed (ffmpeg, download, upload), 2 bad input (manifest).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import sys
import threading

# The same codes mean the same in the pod (`reelkube job`) and at the terminal.
from reelkube.api.pod_contract import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from reelkube.api.pod_contract import EXIT_FAILED as EXIT_FAILED
from reelkube.api.pod_contract import EXIT_OK as EXIT_OK

# Modules that each define `register(subparsers)`; their parsers set `func(args) -> int`.
COMMAND_MODULES = [
    "reelkube.commands.crds",
    "reelkube.commands.job",
    "reelkube.commands.operator",
    "reelkube.commands.render",
    "reelkube.commands.plan",
    "reelkube.commands.storyboard",
    "reelkube.commands.validate",
    "reelkube.commands.tts",
    "reelkube.commands.submit",
    "reelkube.commands.get",
    "reelkube.commands.cancel",
    "reelkube.commands.logs",
    "reelkube.commands.describe",
    "reelkube.commands.batch",
]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`. When argv names a command, only that command's module is imported:
    the commands import what they need at module level (the Kubernetes client, boto3, kopf), and
    `reelkube render` should not pay for `reelkube operator`'s imports. Without a command (help,
    a typo) every command is registered, so help and error messages list them all."""
    parser = argparse.ArgumentParser(
        prog="reelkube", description="Render video and speech, locally or as Kubernetes Jobs."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = _command_module(sys.argv[1:] if argv is None else argv)
    for name in [named] if named else COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _command_module(argv: list[str]) -> str | None:
    """The module of the command argv names (its first argument that is not an option), if any."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    module = f"reelkube.commands.{first}"
    return module if module in COMMAND_MODULES else None


QUICK_EXIT_COMMANDS = frozenset({"render", "tts", "plan", "validate", "storyboard", "crds"})
"""The local commands whose program exits without tearing the interpreter down once the work
is done: freeing every module and object took 50-80 ms after `reelkube render`'s last frame."""


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (default: the program's arguments) and return its exit
    code; as the program itself (no ``argv``), a local command exits the process here."""
    args = build_parser(argv).parse_args(argv)
    try:
        code = int(args.func(args))
    except KeyboardInterrupt:
        code = 130
    if argv is None and args.command in QUICK_EXIT_COMMANDS:
        exit_now(code)
    return code


def exit_now(code: int) -> None:
    """End the process with ``code`` as a normal exit would, less the interpreter's teardown:
    the exit handlers run and the standard streams are flushed. Only when no other thread is
    left (a normal exit would wait for it): otherwise this returns and the caller exits."""
    if any(thread is not threading.main_thread() and not thread.daemon for thread in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # logging's flush, temporary folders' removal, caches written
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to write to
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
