"""The event payload's fields, and the pure functions behind ``status.webhook.deliveries``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reelkube.api.common import SUBSCRIBABLE_EVENTS, WebhookEvent, WebhookSpec
from reelkube.api.status import MAX_WEBHOOK_DELIVERIES, ResourceStatus, WebhookDelivery, WebhookEventDelivery
from reelkube.controller.notify import pending_delivery
from reelkube.webhooks import event_id, event_payload, forwarded, progress_milestone, transition_time
from reelkube.webhooks.history import (
    deliveries_of,
    dump,
    mark_pending,
    pending_events,
    record_outcome,
    upsert,
)

UID = "0a1b2c3d-0000-4000-8000-000000000001"


def record(event: str, state: str = "Pending", attempts: int = 0, **fields) -> WebhookEventDelivery:
    return WebhookEventDelivery(event=event, id=f"evt_{event}", state=state, attempts=attempts, **fields)


def outcome(
    event: str, state: str, attempts: int, code: int | None, at: str, message=None
) -> WebhookDelivery:
    return WebhookDelivery(
        event=event, state=state, attempts=attempts, responseCode=code, lastAttemptTime=at, message=message
    )


# --- the payload -----------------------------------------------------------------------------


def test_payload_carries_what_a_receiver_acts_on() -> None:
    status = {
        "phase": "Failed",
        "progress": 40,
        "reason": "InputNotFound",
        "message": "clip 2: HTTP 404",
        "completionTime": "2026-11-30T06:00:05Z",
        "outputs": {"thumbnail": {"uri": "s3://b/t.jpg"}},
        "webhook": {"event": "failed", "state": "Pending"},
    }
    body = event_payload(
        "RenderJob",
        "media",
        "promo",
        UID,
        "Failed",
        status,
        labels={"team": "ads"},
        annotations={"example.com/order": "A-17"},
        occurred_at=transition_time("failed", status),
    )
    assert body["metadata"] == {
        "namespace": "media",
        "name": "promo",
        "uid": UID,
        "labels": {"team": "ads"},
        "annotations": {"example.com/order": "A-17"},
    }
    assert (body["phase"], body["progress"], body["reason"]) == ("Failed", 40, "InputNotFound")
    assert body["message"] == "clip 2: HTTP 404" and body["outputs"] == status["outputs"]
    assert body["occurredAt"] == "2026-11-30T06:00:05Z"
    assert "webhook" not in body["status"] and body["status"]["reason"] == "InputNotFound"


def test_only_the_chosen_labels_and_annotations_are_forwarded() -> None:
    labels = {"team": "ads", "app.kubernetes.io/name": "promo", "secret-ish": "x"}
    assert forwarded(labels, ["team", "app.kubernetes.io/name", "absent"]) == {
        "team": "ads",
        "app.kubernetes.io/name": "promo",
    }
    assert forwarded(labels, None) == {} and forwarded(None, ["team"]) == {}


def test_transition_times_come_from_the_status() -> None:
    status = {"startTime": "2026-11-30T06:00:00Z", "completionTime": "2026-11-30T06:01:00Z"}
    assert transition_time("started", status) == "2026-11-30T06:00:00Z"
    for event in ("succeeded", "failed", "canceled"):
        assert transition_time(event, status) == "2026-11-30T06:01:00Z"
    assert transition_time("queued", status) is None


def test_forwarded_keys_are_optional_and_must_be_label_keys() -> None:
    hook = WebhookSpec(url="https://example.invalid/h")
    assert hook.forwardLabels is None and hook.forwardAnnotations is None
    hook = WebhookSpec(url="https://example.invalid/h", forwardLabels=["team", "example.com/order-id"])
    assert hook.forwardLabels == ["team", "example.com/order-id"]
    with pytest.raises(ValidationError):
        WebhookSpec(url="https://example.invalid/h", forwardAnnotations=["not a key"])


def test_the_vocabulary_is_complete_and_every_event_can_be_subscribed() -> None:
    assert [e.value for e in WebhookEvent] == [
        "queued",
        "started",
        "voiceover_uploaded",
        "progress",
        "succeeded",
        "failed",
        "canceled",
    ]
    # Every event is announced now, so every one may be subscribed to; anything else is refused.
    assert tuple(WebhookEvent) == SUBSCRIBABLE_EVENTS
    every = WebhookSpec(url="https://example.invalid/h", events=[e.value for e in WebhookEvent])
    assert every.progressStep == 10
    with pytest.raises(ValidationError):
        WebhookSpec(url="https://example.invalid/h", events=["rendered"])
    with pytest.raises(ValidationError):
        WebhookSpec(url="https://example.invalid/h", events=["progress"], progressStep=5)


# --- the history -----------------------------------------------------------------------------


def test_mark_pending_adds_a_record_or_reopens_the_one_there() -> None:
    records = mark_pending([], "started", "evt_started")
    assert dump(records) == [{"event": "started", "id": "evt_started", "state": "Pending", "attempts": 0}]
    delivered = record("started", "Delivered", 1, responseCode=200, deliveredTime="t1")
    reopened = mark_pending([delivered], "started", "evt_started")
    assert len(reopened) == 1 and reopened[0].state == "Pending" and reopened[0].attempts == 1


def test_outcomes_update_their_own_record_and_add_up_attempts() -> None:
    records = [record("started"), record("succeeded")]
    records = record_outcome(
        records, "evt_succeeded", outcome("succeeded", "Failed", 2, 500, "t1", "HTTP 500")
    )
    records = record_outcome(records, "evt_started", outcome("started", "Delivered", 1, 200, "t2"))
    assert [(r.event, r.state, r.attempts) for r in records] == [
        ("started", "Delivered", 1),
        ("succeeded", "Failed", 2),
    ]
    assert records[0].deliveredTime == "t2" and records[1].deliveredTime is None
    assert records[1].message == "HTTP 500" and records[1].responseCode == 500
    # A redelivery of the failed event: its attempts add up, its record says Delivered.
    records = record_outcome(records, "evt_succeeded", outcome("succeeded", "Delivered", 1, 204, "t3"))
    assert (records[1].state, records[1].attempts, records[1].responseCode) == ("Delivered", 3, 204)
    assert records[1].deliveredTime == "t3" and records[1].message is None


def test_an_outcome_without_a_pending_record_is_added() -> None:
    records = record_outcome([], "evt_failed", outcome("failed", "Delivered", 1, 200, "t1"))
    assert dump(records) == [
        {
            "event": "failed",
            "id": "evt_failed",
            "state": "Delivered",
            "attempts": 1,
            "responseCode": 200,
            "lastAttemptTime": "t1",
            "deliveredTime": "t1",
        }
    ]


def test_the_newest_records_are_kept() -> None:
    records: list[WebhookEventDelivery] = []
    for n in range(MAX_WEBHOOK_DELIVERIES + 5):
        records = upsert(records, WebhookEventDelivery(event="progress", id=f"evt_{n}", state="Delivered"))
    assert len(records) == MAX_WEBHOOK_DELIVERIES
    assert [r.id for r in records] == [f"evt_{n}" for n in range(5, MAX_WEBHOOK_DELIVERIES + 5)]
    # The status model holds exactly that many.
    status = ResourceStatus.model_validate(
        {"webhook": {"event": "progress", "state": "Delivered", "deliveries": dump(records)}}
    )
    assert status.webhook is not None and len(status.webhook.deliveries or []) == MAX_WEBHOOK_DELIVERIES


def test_pending_events_are_the_pending_records_then_an_unrecorded_status_webhook() -> None:
    status = {
        "webhook": {
            "event": "canceled",
            "state": "Pending",
            "deliveries": dump([record("started", "Delivered", 1), record("succeeded"), record("failed")]),
        }
    }
    assert pending_events(status) == [("succeeded", "evt_succeeded"), ("failed", "evt_failed")] + [
        ("canceled", None)
    ]
    # An operator that kept no records left only status.webhook.
    assert pending_events({"webhook": {"event": "started", "state": "Pending"}}) == [("started", None)]
    assert pending_events({"webhook": {"event": "started", "state": "Delivered"}}) == []
    assert pending_events({}) == [] and pending_events(None) == []
    assert deliveries_of(None) == []


@pytest.mark.parametrize(
    ("announced", "progress", "step", "due"),
    [
        (None, 5, 10, None),  # nothing reached yet
        (None, 35, 10, 30),  # a jump announces the highest milestone passed, once
        (30, 39, 10, None),
        (30, 41, 10, 40),
        (40, 100, 10, 90),  # 100 is the succeeded event, not progress
        (None, 60, 25, 50),
        (None, 12, 5, 10),  # steps under 10 points are raised to 10
        (None, None, 10, None),
    ],
)
def test_progress_milestones(announced: int | None, progress: int | None, step: int, due: int | None) -> None:
    assert progress_milestone(announced, progress, step) == due


def test_each_progress_milestone_has_its_own_pending_record() -> None:
    body = {"metadata": {"uid": UID}, "status": {}}
    first = pending_delivery("progress", body, occurrence="30")
    body["status"]["webhook"] = first
    second = pending_delivery("progress", body, occurrence="40")
    assert [d["id"] for d in second["deliveries"]] == [
        event_id(UID, "progress", "30"),
        event_id(UID, "progress", "40"),
    ]
