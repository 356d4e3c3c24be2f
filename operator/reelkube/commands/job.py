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
    render does (143, retried by the Job). The pod's runner is PID 1, which ignores a SIGTERM it
    has no handler for: a pod deleted during its first seconds (imports, the API client) would
    otherwise run on until the kubelet's SIGKILL, and 137 fails the Job as out of memory."""
    raise SystemExit(EXIT_CANCELED)


def run(args: argparse.Namespace) -> int:
    # Before the heavy imports; the pipeline installs its own handler once it runs.
    signal.signal(signal.SIGTERM, _stop_before_work)
    from reelkube.pipeline.pod import run_in_pod

    logging.basicConfig(
        level=os.environ.get("REELKUBE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    return run_in_pod(args.resource, work_dir=args.work_dir, use_cluster=not args.no_status)
