"""SIGTERM (or Ctrl-C) becomes :class:`~reelkube.errors.Canceled`, for every way a resource is run.

Kubernetes stops a render pod with SIGTERM (resource deleted, deadline reached, node drained),
and ``kill`` or Ctrl-C stops a local ``reelkube render``. Raising Canceled from the handler
unwinds whatever runs at that moment, and each step's own cleanup runs on the way out: the
engine stops ffmpeg and removes the partial output (:func:`reelkube.engine.execute.run_ffmpeg`),
downloads and scratch directories are removed. This is the only signal handler: the layers
below install none of their own.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from reelkube.errors import Canceled

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_signals_cancel() -> Iterator[None]:
    """Within the block, SIGTERM or SIGINT raises Canceled (once); the previous handlers come
    back after.

    The pod's runner is PID 1 in its container, where an unhandled SIGTERM is ignored, so
    without this a canceled pod would render on until the kubelet kills it. Python lets only
    the main thread set handlers; elsewhere the block runs without them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        for stop in STOP_SIGNALS:  # one cancellation is enough: a second must not cut cleanup short
            signal.signal(stop, signal.SIG_IGN)
        raise Canceled(f"stopped by signal {signal.Signals(signum).name}")

    previous = {stop: signal.signal(stop, handle) for stop in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
