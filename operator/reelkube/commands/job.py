"""`reelkube job --resource FILE`: the entry point of a render pod (see reelkube.pipeline.pod)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path

from reelkube.api.pod_contract import EXIT_CANCELED, WORK_DIR, WORK_DIR_ENV


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser(
        "job", help="run one RenderJob/TTSJob inside its pod: render, upload, report progress"
    )
    parser.add_argument(
        "--resource", required=True, type=Path, help="the resource as JSON (mounted by the operator)"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(os.environ.get(WORK_DIR_ENV, WORK_DIR)),
        help=f"scratch directory for inputs and outputs (default: ${WORK_DIR_ENV} or {WORK_DIR})",
    )
    parser.add_argument(
        "--no-status", action="store_true", help="log progress instead of patching the resource's status"
    )
    parser.set_defaults(func=run)


def _stop_before_work(signum: int, _frame: object) -> None:
    """SIGTERM while the pod is still starting: nothing to clean up yet, so stop as a canceled
    render does (143, retried by the Job) instead of finishing the imports first. (Render pods
    share their process namespace, so the runner is not PID 1 and a SIGTERM before this handler
    also ends it; a runner started as PID 1 would drop that SIGTERM.)"""
    raise SystemExit(EXIT_CANCELED)


def run(args: argparse.Namespace) -> int:
    # Before the heavy imports; the pipeline installs its own handler once it runs.
    signal.signal(signal.SIGTERM, _stop_before_work)
    from reelkube.pipeline.pod import run_in_pod

    logging.basicConfig(
        level=os.environ.get("REELKUBE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    code = run_in_pod(args.resource, work_dir=args.work_dir, use_cluster=not args.no_status)
    if code == EXIT_CANCELED:
        # Stopped: the termination message is written and nothing is left to save. Exit now,
        # without the interpreter's wait for threads still blocked in I/O (a download that
        # hangs kept the process 27 s past SIGTERM, beyond a 10 s grace: SIGKILL, exit 137).
        logging.shutdown()
        os._exit(code)
    return code
