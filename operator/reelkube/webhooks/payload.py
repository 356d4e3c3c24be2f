"""The JSON body of a webhook event, the event's id, and when progress makes an event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from reelkube.api.common import API_VERSION, WebhookEvent

# The status field each event's transition time is read from.
_TRANSITION_FIELDS = {
    WebhookEvent.STARTED.value: "startTime",
    WebhookEvent.SUCCEEDED.value: "completionTime",
    WebhookEvent.FAILED.value: "completionTime",
    WebhookEvent.CANCELED.value: "completionTime",
}


def event_id(uid: str, event: str, occurrence: str | None = None) -> str:
    """The id of one event about one resource: ``evt_`` and 24 hex digits of SHA-256 over
    ``uid/event`` (``uid/event/occurrence`` for events that happen more than once, such as
    progress at 30 %). Derived, not stored, so every attempt, every redelivery and every
    operator process sends the same id, and receivers can drop duplicates by it."""
    key = f"{uid}/{event}" if occurrence is None else f"{uid}/{event}/{occurrence}"
    return "evt_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


MIN_PROGRESS_STEP = 10
"""Progress events come at most every this many percentage points."""


def progress_milestone(announced: int | None, progress: int | None, step: int) -> int | None:
    """The progress event due when the status moves from the last announced milestone to
    ``progress``: the highest multiple of ``step`` (at least :data:`MIN_PROGRESS_STEP`) past
    ``announced``, below 100 (completion is its own event); None when none is due. The
    milestone is the event's occurrence, so ``event_id(uid, "progress", str(milestone))`` names
    it once, however often the status is observed."""
    if progress is None:
        return None
    step = max(step, MIN_PROGRESS_STEP)
    milestone = min(progress, 99) // step * step
    if milestone <= 0 or (announced is not None and milestone <= announced):
        return None
    return milestone


def forwarded(values: Mapping[str, str] | None, keys: Iterable[str] | None) -> dict[str, str]:
    """The entries of ``values`` named in ``keys`` (absent keys are left out)."""
    values = values or {}
    return {key: values[key] for key in keys or () if key in values}


def transition_time(event: str, status: Mapping[str, Any]) -> str | None:
    """When the transition an event announces happened, from the status (None if unknown)."""
    field = _TRANSITION_FIELDS.get(event)
    return status.get(field) if field is not None else None


def event_payload(
    kind: str,
    namespace: str,
    name: str,
    uid: str,
    phase: str | Enum | None,
    status_dict: dict[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    occurred_at: str | None = None,
) -> dict[str, Any]:
    """The body sent for an event about one resource::

        {"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob",
         "metadata": {"namespace": ..., "name": ..., "uid": ...,
                      "labels": {...forwarded...}, "annotations": {...forwarded...}},
         "phase": "Succeeded", "progress": 100, "reason": ..., "message": ...,
         "outputs": {...}, "occurredAt": "2026-...Z",
         "status": {...the resource's status...}}

    ``labels`` and ``annotations`` are the ones the user chose to forward; the keys are left out
    when empty, as are the top-level fields the status lacks. ``occurredAt`` is the time of the
    transition. ``deliver`` adds ``event``, ``id`` and ``sentAt``. The status's own ``webhook``
    field is left out: it describes deliveries, not this event."""
    status = {key: value for key, value in status_dict.items() if key != "webhook"}
    metadata: dict[str, Any] = {"namespace": namespace, "name": name, "uid": uid}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "phase": phase.value if isinstance(phase, Enum) else phase,
    }
    for field in ("progress", "reason", "message", "outputs"):
        if status.get(field) is not None:
            body[field] = status[field]
    if occurred_at is not None:
        body["occurredAt"] = occurred_at
    body["status"] = status
    return body
