"""Admission of resources held back by the concurrency limit.

:func:`choose_admissions` (pure) picks which waiting resources to try, oldest first, as many as
there are free slots; :class:`Admission` runs it on a background thread, woken when a Job
finishes and on a slow tick (no kopf timers: they add finalizers). The reconciler re-checks the
limit under its admission lock before creating, so a choice made here is never an overrun.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from reelkube.api.kinds import KINDS, ResourceKind
from reelkube.api.status import Phase

if TYPE_CHECKING:
    from reelkube.controller.reconcile import Reconciler

log = logging.getLogger(__name__)

ADMISSION_TICK_SECONDS = 10.0
_WAITING_PHASES = (None, Phase.PENDING.value, Phase.QUEUED.value)


class Waiting(NamedTuple):
    """A resource without a Job yet; tuples sort oldest first (then by kind, namespace, name)."""

    created: str
    kind: str
    namespace: str
    name: str


def waiting(kind: ResourceKind, bodies: Iterable[Mapping[str, Any]]) -> list[Waiting]:
    """The resources among ``bodies`` (of ``kind``) that wait for a Job: not started, not done."""
    found: list[Waiting] = []
    for body in bodies:
        status = body.get("status") or {}
        if status.get("phase") in _WAITING_PHASES and not status.get("jobName"):
            meta = body["metadata"]
            found.append(
                Waiting(meta.get("creationTimestamp") or "", kind.kind, meta["namespace"], meta["name"])
            )
    return found


def choose_admissions(candidates: Iterable[Waiting], running: int, limit: int) -> list[Waiting]:
    """The waiting resources to try now: the oldest, as many as ``limit`` leaves free."""
    return sorted(candidates)[: max(0, limit - running)]


class Admission:
    """Background admission of queued resources: runs on each wake-up and every tick."""

    def __init__(self, reconciler: Reconciler, tick_seconds: float = ADMISSION_TICK_SECONDS) -> None:
        self._reconciler = reconciler
        self._tick = tick_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="admission", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def admit_waiting(self) -> int:
        """Reconcile resources held back by the concurrency limit, oldest first; returns how many
        were tried."""
        reconciler = self._reconciler
        settings = reconciler.settings
        if not settings.max_running_jobs:
            return 0
        candidates = [
            item
            for kind in KINDS.values()
            for item in waiting(kind, reconciler.client.list_resources(kind, settings.watch_namespaces))
        ]
        chosen = choose_admissions(candidates, reconciler.running_jobs(), settings.max_running_jobs)
        for item in chosen:
            reconciler.reconcile(item.kind, item.namespace, item.name, trigger="admission")
        return len(chosen)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.admit_waiting()
            except Exception:  # noqa: BLE001 - keep admitting after an API hiccup
                log.exception("event=admission_error")
