"""SIGTERM becomes :class:`~reelkube.errors.Canceled`, for every way a resource is run.

Kubernetes stops a render pod with SIGTERM (resource deleted, deadline reached, node drained),
and ``kill`` stops a local ``reelkube render`` the same way. Raising Canceled from the handler
unwinds whatever runs at that moment (a download, Piper, an upload), so each step's own cleanup
removes its partial files; while ffmpeg runs, the engine takes the signal itself to stop ffmpeg
first (:mod:`reelkube.engine.execute`).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from reelkube.errors import Canceled


@contextmanager
def sigterm_cancels() -> Iterator[None]:
    """Within the block, SIGTERM raises Canceled (once); the previous handler comes back after.

    The pod's runner is PID 1 in its container, where an unhandled SIGTERM is ignored, so
    without this a canceled pod would render on until the kubelet kills it.
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one cancellation is enough
        raise Canceled(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
