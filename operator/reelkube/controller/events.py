"""Kubernetes Events on a resource, so that ``kubectl describe rj NAME`` tells its story: one per
phase transition (Queued, Started, Succeeded, Failed with the cause, Canceled), and notices of
what happened in between: the voice-over in storage (``VoiceoverUploaded``), each retry with
its cause (``Retry``), each failed webhook attempt and each delivery given up
(``WebhookRetrying``, ``WebhookFailed``), a redelivery asked for by annotation
(``WebhookRedelivery``, ``WebhookRedeliveryRefused``), and a GPU render that fell back to the
CPU encoder (``GpuEncoderFallback``).

:func:`transition_event` and :func:`notice_event` (pure) build the core/v1 Event;
:class:`TransitionEvents` sends them on a thread of its own, in order, so that the reconcile's
write path never waits on them, and a failed Event is logged and dropped: it never fails a
reconcile. A notice that must be told once per occurrence (the second attempt, the fallback)
has a name derived from that occurrence, so telling it again, from another sync or after an
operator restart, is an AlreadyExists the sender drops.
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


RETRY = "Retry"
WEBHOOK_RETRYING = "WebhookRetrying"
WEBHOOK_FAILED = "WebhookFailed"
WEBHOOK_REDELIVERY = "WebhookRedelivery"
WEBHOOK_REDELIVERY_REFUSED = "WebhookRedeliveryRefused"
GPU_FALLBACK = "GpuEncoderFallback"
VOICEOVER_UPLOADED = "VoiceoverUploaded"
NOTICE_REASONS = frozenset(
    {
        RETRY,
        WEBHOOK_RETRYING,
        WEBHOOK_FAILED,
        WEBHOOK_REDELIVERY,
        WEBHOOK_REDELIVERY_REFUSED,
        GPU_FALLBACK,
        VOICEOVER_UPLOADED,
    }
)
"""The reasons of the Events that are not phase transitions."""
_NAME_LIMIT = 253


def notice_event(
    body: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    warning: bool,
    now: datetime,
    instance: str = "",
    key: str | None = None,
) -> dict[str, Any]:
    """A core/v1 Event on ``body`` that is not a phase transition (a retry, a webhook failure, a
    fallback): ``reason`` is one of :data:`NOTICE_REASONS`. With ``key``, the Event's name is
    the resource's plus ``key`` (lowercase, at most 253 characters), so the same notice created
    twice is one Event; without, the name carries the time as :func:`transition_event`'s does."""
    event = transition_event(body, Phase.RUNNING, None, message, now=now, instance=instance)
    event["reason"] = reason
    event["action"] = reason
    event["type"] = "Warning" if warning else "Normal"
    if key is not None:
        event["metadata"]["name"] = f"{body['metadata']['name']}.{key.lower()}"[:_NAME_LIMIT]
    return event


def retry_message(attempt: int, cause: tuple[str, str] | None) -> str:
    """What a ``Retry`` Event says: which attempt starts, and why the one before it ended."""
    why = f"{cause[0]}: {cause[1]}" if cause else "the previous pod did not finish"
    return f"attempt {attempt} starting; attempt {attempt - 1} ended: {why}"


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

    def notice(
        self,
        body: Mapping[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
        key: str | None = None,
    ) -> None:
        """Tell something that is not a phase change (see :func:`notice_event`); returns at once."""
        try:
            event = notice_event(
                body,
                reason,
                message,
                warning=warning,
                now=datetime.now(UTC),
                instance=self._instance,
                key=key,
            )
            self._pool.submit(self._send, event)
        except Exception:  # noqa: BLE001 - an Event is never worth a failed reconcile
            log.exception("event=k8s_event_failed reason=%s", reason)

    def _send(self, event: dict[str, Any]) -> None:
        target = event["involvedObject"]
        try:
            self._client.create_event(target["namespace"], event)
        except Exception as exc:  # noqa: BLE001 - logged and dropped
            if getattr(exc, "status", None) == 409:
                return  # a notice with a derived name, told already
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
