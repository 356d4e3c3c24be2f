"""`reelkube operator`: run the kopf operator for RenderJob and TTSJob.

Equivalent to ``kopf run -m reelkube.controller.handlers`` with the liveness endpoint and the
namespaces taken from the flags or the chart's environment (``REELKUBE_WATCH_NAMESPACES``).
With ``REELKUBE_LEADER_ELECTION`` (the chart's default), kopf starts only once this replica holds
the Lease (:mod:`reelkube.controller.leadership`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from reelkube.controller.log_format import configure_logging
from reelkube.controller.settings import OperatorSettings, settings_from_env

if TYPE_CHECKING:
    from reelkube.controller.leadership import LeaderElection

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = subparsers.add_parser("operator", help="run the Kubernetes operator (kopf)")
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable); default: $REELKUBE_WATCH_NAMESPACES, else all",
    )
    parser.add_argument("--all-namespaces", action="store_true", help="watch the whole cluster")
    parser.add_argument(
        "--liveness",
        default=None,
        help="kopf liveness endpoint (default: http://0.0.0.0:$REELKUBE_LIVENESS_PORT/healthz)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import kopf

    settings = settings_from_env(os.environ)
    level = logging.DEBUG if args.verbose else getattr(logging, settings.log_level, logging.INFO)
    # Our lines carry namespace= name=; kopf's per-object ones its object reference, which the
    # JSON form turns into the same fields (the chart's operator.logFormat).
    configure_logging(level, settings.log_format)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)

    import reelkube.controller.handlers  # noqa: F401 - registers the handlers

    namespaces = [] if args.all_namespaces else (args.namespace or list(settings.watch_namespaces))
    liveness = args.liveness or (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    election = _elect(settings)
    try:
        kopf.run(
            # One active replica at a time: the Lease (leader election) decides which, so kopf's
            # own peering stays off.
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness,
            # The cleanup handler releases the Lease as soon as kopf has stopped.
            memo=kopf.Memo(election=election),
        )
    finally:
        if election is not None:
            # Already done by the cleanup handler unless kopf failed before it ran.
            election.release()
    exit_past_lingering_threads()
    return 0


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """A standby waiting for the Lease ends at once on SIGTERM: it holds no work. (The operator
    runs as the container's PID 1, for which the kernel ignores a signal without a handler: the
    standby then waited for the kubelet's SIGKILL 30 s later.) kopf installs its own handlers
    once this replica leads."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("event=standby_stopped signal=%s", signal.Signals(signum).name)
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_past_lingering_threads(code: int = 0) -> None:
    """End the process now when threads other than the daemons are still alive.

    kopf has stopped and the cleanup handler has released the Lease and flushed the Events by
    now, but a sync handler still running in kopf's executor (a Kubernetes call, a delivery)
    would keep the interpreter waiting at exit: in a pod the operator then idled until the
    kubelet's SIGKILL 30 s later, holding up a rollout. Whatever such a thread was doing is
    redone by the next operator, which rebuilds its view from the cluster."""
    frames = sys._current_frames()
    lingering = [
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread()
        and not thread.daemon
        and thread.is_alive()
        and _at_work(frames.get(thread.ident or -1))
    ]
    if not lingering:
        return
    log.warning("event=exit_past_threads threads=%s", ",".join(sorted(lingering)))
    logging.shutdown()
    os._exit(code)


def _elect(settings: OperatorSettings) -> LeaderElection | None:
    """With leader election on, wait as a standby (answering the probes) until this replica
    holds the Lease, then keep renewing it; None when it is off."""
    chosen = settings.leader_election
    if not chosen.enabled or not chosen.namespace:
        return None
    from kubernetes import client

    from reelkube.controller.kube import load_kube_config
    from reelkube.controller.leadership import (
        LeaderElection,
        LeaseTiming,
        exit_on_lost_leadership,
        standby_health,
    )

    election = LeaderElection(
        client.CoordinationV1Api(load_kube_config(pool_size=2)),
        chosen.namespace,
        chosen.lease_name,
        chosen.identity,
        LeaseTiming(chosen.lease_seconds, chosen.renew_deadline_seconds, chosen.retry_seconds),
    )
    with standby_health(settings.liveness_port), stop_on_sigterm():
        election.acquire()
    election.keep_renewing(on_lost=exit_on_lost_leadership)
    return election


def _at_work(frame: FrameType | None) -> bool:
    """Whether a thread would hold the exit: an idle executor worker (waiting for work, which
    the interpreter's exit tells it there is none) does not; one running a task, or any other
    thread, does."""
    in_worker = False
    while frame is not None:
        if frame.f_code.co_filename.endswith(_EXECUTOR_SOURCE):
            if frame.f_code.co_name == "run":  # _WorkItem.run: a task is running
                return True
            in_worker = in_worker or frame.f_code.co_name == "_worker"
        frame = frame.f_back
    return not in_worker


_EXECUTOR_SOURCE = os.path.join("concurrent", "futures", "thread.py")
