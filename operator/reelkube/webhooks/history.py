"""The delivery history in ``status.webhook.deliveries``: one record per event, newest kept.

Pure functions from records to records; the notifier writes their results. A record is keyed
by the event's id, so recording an outcome twice, or recording a redelivery, updates the one
record instead of adding another. A record stays Pending from the status patch that announces
its event until an outcome is recorded: an operator that restarts in between finds it and sends
the event again, with the same id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reelkube.api.status import MAX_WEBHOOK_DELIVERIES, WebhookDelivery, WebhookEventDelivery


def deliveries_of(status: Mapping[str, Any] | None) -> list[WebhookEventDelivery]:
    """The records in a status dict (``status.webhook.deliveries``), oldest first."""
    webhook = (status or {}).get("webhook") or {}
    return [WebhookEventDelivery.model_validate(item) for item in webhook.get("deliveries") or []]


def upsert(
    records: Sequence[WebhookEventDelivery], record: WebhookEventDelivery, limit: int = MAX_WEBHOOK_DELIVERIES
) -> list[WebhookEventDelivery]:
    """``records`` with ``record`` in place of the one with its id (in that one's place), or added
    last; then only the newest ``limit``."""
    out = list(records)
    for index, existing in enumerate(out):
        if existing.id == record.id:
            out[index] = record
            break
    else:
        out.append(record)
    return out[-limit:]


def pending_record(event: str, event_id: str) -> WebhookEventDelivery:
    """The record of an event announced but not yet delivered."""
    return WebhookEventDelivery(event=event, id=event_id, state="Pending", attempts=0)


def mark_pending(
    records: Sequence[WebhookEventDelivery], event: str, event_id: str
) -> list[WebhookEventDelivery]:
    """``records`` with the event pending. A record already there keeps its earlier attempts
    (a redelivery adds to them) but is Pending again."""
    existing = next((r for r in records if r.id == event_id), None)
    if existing is None:
        return upsert(records, pending_record(event, event_id))
    return upsert(records, existing.model_copy(update={"state": "Pending"}))


def record_outcome(
    records: Sequence[WebhookEventDelivery],
    event_id: str,
    result: WebhookDelivery,
    earlier_attempts: int | None = None,
) -> list[WebhookEventDelivery]:
    """``records`` with the state of the delivery of ``event_id``: its outcome, or with ``result``
    Pending, its retries so far. Attempts add to ``earlier_attempts``, those made before this
    delivery began (before a restart, or before a redelivery); by default the attempts of the
    record already there, so a sender that records its retries as it goes passes the count it
    started from. The delivered time stays once set."""
    existing = next((r for r in records if r.id == event_id), None)
    if earlier_attempts is None:
        earlier_attempts = existing.attempts if existing is not None else 0
    delivered = result.state == "Delivered"
    earlier_delivered = existing.deliveredTime if existing is not None else None
    record = WebhookEventDelivery(
        event=result.event,
        id=event_id,
        state=result.state,
        attempts=earlier_attempts + result.attempts,
        responseCode=result.responseCode,
        lastAttemptTime=result.lastAttemptTime,
        deliveredTime=result.lastAttemptTime if delivered else earlier_delivered,
        message=result.message,
    )
    return upsert(records, record)


def pending_events(status: Mapping[str, Any] | None) -> list[tuple[str, str | None]]:
    """``(event, id)`` of every event still to deliver, oldest first: the Pending records, and a
    Pending ``status.webhook`` without a record (written by an operator that kept none; its id is
    None, to be derived)."""
    records = deliveries_of(status)
    pending: list[tuple[str, str | None]] = [(r.event, r.id) for r in records if r.state == "Pending"]
    webhook = (status or {}).get("webhook") or {}
    last_event = webhook.get("event")
    if webhook.get("state") == "Pending" and last_event and all(r.event != last_event for r in records):
        pending.append((last_event, None))
    return pending


def dump(records: Sequence[WebhookEventDelivery]) -> list[dict[str, Any]]:
    """Records as the status holds them."""
    return [r.model_dump(mode="json", exclude_none=True) for r in records]
