"""SIGTERM (or Ctrl-C) becomes :class:`~reelkube.errors.Canceled`, for every way a resource is run.

Kubernetes stops a render pod with SIGTERM (resource deleted, deadline reached, node drained),
and ``kill`` or Ctrl-C stops a local ``reelkube render``. The handler first kills the runner's
child processes (ffmpeg, ffprobe, Piper) with SIGKILL, then raises :class:`StopSignal`, which
unwinds whatever runs at that moment and leaves the block as Canceled; each step's own cleanup
runs on the way out: the engine removes the partial output
(:func:`reelkube.engine.execute.run_ffmpeg`), downloads and scratch directories are removed. This
is the only signal handler: the layers below install none of their own.

Why SIGKILL and not a graceful stop: what a stopped tool would still write is thrown away, and
a pod has only its grace period (10 s in the tests, 30 s by default) before the kubelet kills
it with SIGKILL, exit 137, which the Job's podFailurePolicy reads as out of memory. ffmpeg
stopped by SIGTERM flushes its encoder first: at a quarter of a core, 1080p at a slow preset,
that outlasted the engine's 5 s wait, and the runner exited about 6 s after the signal instead
of well under one (``tests/pipeline/bench_sigterm_exit.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from reelkube.errors import Canceled

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PROC = Path("/proc")


class StopSignal(BaseException):
    """What the handler raises inside the block; it leaves the block as Canceled.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows
    the stop or turns it into another error (the font measurement's fallback in
    :mod:`reelkube.engine.fonts` is one such catch-all). On the cluster one of three pods deleted
    as they started ended with exit 1, InternalError, instead of 143
    (``tests/pipeline/bench_pod_stop_cluster.py``).
    """


@contextmanager
def stop_signals_cancel() -> Iterator[None]:
    """Within the block, SIGTERM or SIGINT kills the child processes started in it and raises
    Canceled (once); the previous handlers come back after.

    A runner that is PID 1 of its container (the operator's pods share their process namespace,
    so there it is not; a plain ``docker run`` is) ignores a SIGTERM it has no handler for, and
    would render on until it is killed. Python lets only the main thread set handlers; elsewhere
    the block runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    # Children from before the block are not the render's (a test's servers, a caller's own).
    earlier = frozenset(child_pids(os.getpid()))

    def handle(signum: int, _frame: FrameType | None) -> None:
        for stop in STOP_SIGNALS:  # one cancellation is enough: a second must not cut cleanup short
            signal.signal(stop, signal.SIG_IGN)
        stop_children(spare=earlier)
        raise StopSignal(f"stopped by signal {signal.Signals(signum).name}")

    previous = {stop: signal.signal(stop, handle) for stop in STOP_SIGNALS}
    try:
        yield
    except StopSignal as stopped:
        raise Canceled(str(stopped)) from None
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def stop_children(spare: frozenset[int] = frozenset()) -> list[int]:
    """SIGKILL every child process of this one but those in ``spare``, each with its process group
    when it leads one (the engine starts ffmpeg in a session of its own); the pids signalled.

    A child that has exited stays a zombie until it is waited for, so its pid cannot have been
    reused by another process. Without ``/proc`` (not Linux) nothing is done, and the engine's
    own stop (SIGTERM, then SIGKILL) applies.
    """
    stopped = []
    for child in child_pids(os.getpid()):
        if child in spare:
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            if os.getpgid(child) == child:
                os.killpg(child, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)
            stopped.append(child)
    return stopped


def child_pids(parent: int) -> list[int]:
    """The pids whose parent is ``parent``, read from ``/proc/PID/stat`` (empty without /proc)."""
    if not _PROC.is_dir():
        return []
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(parent):
            found.append(int(entry.name))
    return found
