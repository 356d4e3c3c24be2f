"""Waiting on many resources at once: one watching thread per Handle, outcomes gathered.

What `reelkube submit --wait` and `reelkube batch --wait` use, and what a program can use to
wait on a batch: each wait is the Handle's own watch, so progress arrives as it is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reelkube.api.status import ResourceStatus
from reelkube.client.errors import ClientError, RenderCanceled, RenderFailed, WaitTimeout
from reelkube.client.handle import Handle
from reelkube.client.resources import Snapshot

OUTCOME_SUCCEEDED = "Succeeded"
OUTCOME_FAILED = "Failed"
OUTCOME_CANCELED = "Canceled"
OUTCOME_TIMEOUT = "Timeout"
OUTCOME_ERROR = "Error"
"""The wait itself went wrong (the resource was deleted, the API server refused the watch)."""


@dataclass
class Outcome:
    """How waiting on one resource ended."""

    handle: Handle
    result: str = ""
    snapshot: Snapshot | None = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return bool(self.result)


def _wait_one(
    outcome: Outcome, timeout: float | None, on_progress: Callable[[Handle, ResourceStatus], None] | None
) -> None:
    handle = outcome.handle
    try:
        outcome.snapshot = handle.wait(
            timeout, on_progress=(lambda status: on_progress(handle, status)) if on_progress else None
        )
        outcome.result = OUTCOME_SUCCEEDED
    except RenderFailed as exc:
        outcome.error, outcome.result = exc, OUTCOME_FAILED
    except RenderCanceled as exc:
        outcome.error, outcome.result = exc, OUTCOME_CANCELED
    except WaitTimeout as exc:
        outcome.error, outcome.result = exc, OUTCOME_TIMEOUT
    except (ClientError, Exception) as exc:  # reported per resource; the other waits go on
        outcome.error, outcome.result = exc, OUTCOME_ERROR
    outcome.snapshot = outcome.snapshot or handle.last


def wait_all(
    handles: Sequence[Handle],
    timeout: float | None = None,
    on_progress: Callable[[Handle, ResourceStatus], None] | None = None,
) -> list[Outcome]:
    """Wait on every handle at once; their outcomes in the same order.

    ``on_progress(handle, status)`` is called from the waiting threads (one at a time per
    handle, but handles concurrently). KeyboardInterrupt reaches the caller at once; the
    threads are daemons and end with the program.
    """
    outcomes = [Outcome(handle) for handle in handles]
    threads = [
        threading.Thread(target=_wait_one, args=(outcome, timeout, on_progress), daemon=True)
        for outcome in outcomes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Short joins, so that Ctrl-C is seen by the main thread while the waits run.
        while thread.is_alive():
            thread.join(0.2)
    return outcomes
