"""The stall watch: renders whose progress stands still are noticed without any event.

A stuck pod sends nothing (no Job or pod event, no status write), so a slow tick looks for
Running resources whose last progress report (``status.lastProgressTime``) is older than the
stall limit, and reconciles them; the decision (``FailStalled``) judges each with its pods in
view, deletes the Job and fails the resource with reason NoProgress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reelkube.api.kinds import KINDS, ResourceKind
from reelkube.api.status import Phase

if TYPE_CHECKING:
    from reelkube.controller.reconcile import Reconciler

log = logging.getLogger(__name__)

MAX_TICK_SECONDS = 30.0


def stall_suspects(
    kind: ResourceKind, bodies: Iterable[Mapping[str, Any]], now: datetime, stall_seconds: int
) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of the Running resources among ``bodies`` whose last progress
    report is older than ``stall_seconds`` (the reconcile judges them with their pods)."""
    if stall_seconds <= 0:
        return []
    cutoff = now - timedelta(seconds=stall_seconds)
    found = []
    for body in bodies:
        status = body.get("status") or {}
        stamp = status.get("lastProgressTime")
        if status.get("phase") != Phase.RUNNING.value or not stamp:
            continue
        try:
            reported = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        if reported <= cutoff:
            meta = body["metadata"]
            found.append((kind.kind, meta["namespace"], meta["name"]))
    return found


class StallWatch:
    """Reconciles stall suspects every ``tick`` seconds (a quarter of the limit, at most 30 s)."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler
        limit = reconciler.settings.stall_seconds
        self._tick = min(MAX_TICK_SECONDS, max(1.0, limit / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stall-watch", daemon=True)

    def start(self) -> None:
        if self._reconciler.settings.stall_seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> int:
        """Reconcile every suspect now; returns how many there were."""
        reconciler = self._reconciler
        settings = reconciler.settings
        now = datetime.now(UTC)
        suspects = [
            suspect
            for kind in KINDS.values()
            for suspect in stall_suspects(
                kind,
                reconciler.client.list_resources(kind, settings.watch_namespaces),
                now,
                settings.stall_seconds,
            )
        ]
        for kind_name, namespace, name in suspects:
            reconciler.reconcile(kind_name, namespace, name, trigger="stall-check")
        return len(suspects)

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - keep watching after an API hiccup
                log.exception("event=stall_watch_error")
