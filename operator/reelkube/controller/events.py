"""Kubernetes Events on a resource, one per phase transition, so that ``kubectl describe rj NAME``
tells its story (Queued, Started, Succeeded, Failed with the cause, Canceled).

:func:`transition_event` (pure) builds the core/v1 Event; :class:`TransitionEvents` sends them
on a thread of its own, in order, so that the reconcile's write path never waits on them, and a
failed Event is logged and dropped: it never fails a reconcile.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from reelkube.api.common import API_VERSION
from reelkube.api.status import Phase

log = logging.getLogger(__name__)

COMPONENT = "reelkube-operator"
"""The Event's source (``kubectl describe`` shows it in the From column)."""
REPORTING_CONTROLLER = "reelkube.io/operator"
MESSAGE_LIMIT = 1024
"""Characters of an Event's message kept (the events.k8s.io limit)."""

EVENT_REASONS: dict[Phase, str] = {
    Phase.PENDING: "Pending",
    Phase.QUEUED: "Queued",
    Phase.RUNNING: "Started",
    Phase.SUCCEEDED: "Succeeded",
    Phase.FAILED: "Failed",
    Phase.CANCELED: "Canceled",
}
"""The Event reason that announces each phase."""
_WARNINGS = frozenset({Phase.PENDING, Phase.FAILED})


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def transition_event(
    body: Mapping[str, Any],
    phase: Phase,
    reason: str | None,
    message: str | None,
    *,
    now: datetime,
    instance: str = "",
) -> dict[str, Any]:
    """The core/v1 Event announcing that the resource ``body`` entered ``phase`` because of
    ``reason`` (the status reason) with ``message``.

    Failed and Pending are Warnings, the others Normal; the message leads with the cause, so a
    failure reads "InputNotFound: https://... returned 404". The name is the resource's plus the
    time in microseconds (hex), as client-go names its Events."""
    meta = body["metadata"]
    detail = message or ""
    if reason and reason not in (EVENT_REASONS[phase], phase.value):
        detail = f"{reason}: {detail}" if detail else reason
    stamp = _timestamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{int(now.timestamp() * 1_000_000):x}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": body.get("apiVersion") or API_VERSION,
            "kind": body.get("kind"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": EVENT_REASONS[phase],
        "message": _clip(detail or f"phase {phase.value}"),
        "type": "Warning" if phase in _WARNINGS else "Normal",
        "action": phase.value,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": REPORTING_CONTROLLER,
        "reportingInstance": instance,
    }


class EventSink(Protocol):
    """What :class:`TransitionEvents` needs from the API client."""

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None: ...


class TransitionEvents:
    """Sends transition Events off the reconcile path, in the order they were recorded."""

    def __init__(self, client: EventSink, instance: str | None = None) -> None:
        self._client = client
        self._instance = instance if instance is not None else socket.gethostname()
        # One thread: a resource's Events reach the API server in the order of its transitions.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="events")

    def record(self, body: Mapping[str, Any], phase: Phase, reason: str | None, message: str | None) -> None:
        """Announce that ``body`` entered ``phase``; returns at once."""
        try:
            event = transition_event(
                body, phase, reason, message, now=datetime.now(UTC), instance=self._instance
            )
            self._pool.submit(self._send, event)
        except Exception:  # noqa: BLE001 - an Event is never worth a failed reconcile
            log.exception("event=k8s_event_failed phase=%s", phase)

    def _send(self, event: dict[str, Any]) -> None:
        target = event["involvedObject"]
        try:
            self._client.create_event(target["namespace"], event)
        except Exception as exc:  # noqa: BLE001 - logged and dropped
            log.warning(
                "event=k8s_event_failed namespace=%s name=%s reason=%s error=%s",
                target["namespace"],
                target["name"],
                event["reason"],
                exc,
            )

    def close(self) -> None:
        """Send what is pending, then stop the thread."""
        self._pool.shutdown(wait=True)
