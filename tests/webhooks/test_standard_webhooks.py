"""Signatures checked by the Standard Webhooks reference library, never by Reelkube's own code.

Every delivery here goes over real loopback HTTP to the test receiver; what the receiver got is
handed to ``standardwebhooks.Webhook.verify`` as any receiver would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from reelkube.api.common import WebhookSpec
from reelkube.webhooks import deliver, event_id, event_payload

RAW_SECRET = b"s3cr3t-from-a-kubernetes-secret"
# A raw secret's whsec_ form, as the WebhookSpec.secretRef docs tell a receiver to write it.
RAW_SECRET_WHSEC = "whsec_" + base64.b64encode(RAW_SECRET).decode()
WHSEC_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
UID = "0a1b2c3d-0000-4000-8000-000000000001"


def _payload() -> dict:
    status = {"phase": "Succeeded", "progress": 100, "outputs": {"video": {"uri": "s3://b/k.mp4"}}}
    return event_payload("RenderJob", "media", "promo", UID, "Succeeded", status)


def _verify(secret: str, request) -> dict:
    """What a receiver does: verify the raw body against the headers with the reference library."""
    return Webhook(secret).verify(request.body, request.headers)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_a_delivery_signed_with_a_raw_secret_verifies_with_its_whsec_form(webhook_receiver) -> None:
    eid = event_id(UID, "succeeded")
    deliver(
        WebhookSpec(url=webhook_receiver.url), "succeeded", _payload(), secret=RAW_SECRET, delivery_id=eid
    )

    (request,) = webhook_receiver.requests
    body = _verify(RAW_SECRET_WHSEC, request)
    assert request.header("webhook-id") == eid == body["id"]
    assert re.fullmatch(r"[0-9]+", request.header("webhook-timestamp") or "")
    assert abs(int(request.header("webhook-timestamp") or 0) - time.time()) < 60
    assert (request.header("webhook-signature") or "").startswith("v1,")
    assert body["event"] == "succeeded" and body["metadata"]["uid"] == UID


def test_a_whsec_secret_verifies_as_written(webhook_receiver) -> None:
    deliver(WebhookSpec(url=webhook_receiver.url), "failed", _payload(), secret=WHSEC_SECRET.encode())
    assert _verify(WHSEC_SECRET, webhook_receiver.requests[0])["event"] == "failed"
    # The key is the decoded bytes, not the text: the text taken as a raw key does not verify.
    wrong = "whsec_" + base64.b64encode(WHSEC_SECRET.encode()).decode()
    with pytest.raises(WebhookVerificationError):
        _verify(wrong, webhook_receiver.requests[0])


def test_a_replay_outside_the_tolerance_window_is_rejected(webhook_receiver) -> None:
    # A request captured six minutes ago and replayed now carries its old signed time.
    six_minutes_ago = time.time() - 6 * 60
    deliver(
        WebhookSpec(url=webhook_receiver.url),
        "succeeded",
        _payload(),
        secret=RAW_SECRET,
        clock=lambda: six_minutes_ago,
    )
    request = webhook_receiver.requests[0]
    with pytest.raises(WebhookVerificationError, match="too old"):
        _verify(RAW_SECRET_WHSEC, request)
    # Moving the time forward breaks the signature instead.
    fresh = {**request.headers, "webhook-timestamp": str(int(time.time()))}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(RAW_SECRET_WHSEC).verify(request.body, fresh)


def test_a_tampered_body_or_id_is_rejected(webhook_receiver) -> None:
    deliver(WebhookSpec(url=webhook_receiver.url), "succeeded", _payload(), secret=RAW_SECRET)
    request = webhook_receiver.requests[0]
    _verify(RAW_SECRET_WHSEC, request)  # the untouched request verifies

    tampered = request.body.replace(b'"Succeeded"', b'"Failed"')
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(RAW_SECRET_WHSEC).verify(tampered, request.headers)
    other_id = {**request.headers, "webhook-id": "evt_000000000000000000000000"}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(RAW_SECRET_WHSEC).verify(request.body, other_id)
    with pytest.raises(WebhookVerificationError):
        _verify("whsec_" + base64.b64encode(b"another secret").decode(), request)


def test_every_retry_is_signed_afresh_with_the_same_id_and_body(webhook_receiver) -> None:
    webhook_receiver.respond_with(500, 503, 500)
    start = int(time.time())
    times = iter(range(start, start + 100, 7))
    deliver(
        WebhookSpec(url=webhook_receiver.url, maxAttempts=5),
        "started",
        _payload(),
        secret=RAW_SECRET,
        delivery_id=event_id(UID, "started"),
        sleep=SleepRecorder(),
        clock=lambda: next(times),
    )

    requests = webhook_receiver.requests
    assert [r.status for r in requests] == [500, 503, 500, 200]
    assert {r.header("webhook-id") for r in requests} == {event_id(UID, "started")}
    assert len({r.body for r in requests}) == 1
    # The first reading stamps the body's sentAt; each attempt reads the time it is sent, then answered.
    assert [int(r.header("webhook-timestamp") or 0) for r in requests] == [
        start + 7 * n for n in (1, 3, 5, 7)
    ]
    assert len({r.header("webhook-signature") for r in requests}) == 4
    for request in requests:
        assert _verify(RAW_SECRET_WHSEC, request)["id"] == event_id(UID, "started")


def test_unsigned_deliveries_still_carry_the_id_and_time(webhook_receiver) -> None:
    deliver(WebhookSpec(url=webhook_receiver.url), "succeeded", _payload(), secret=None, delivery_id="evt_x")
    request = webhook_receiver.requests[0]
    assert request.header("webhook-id") == "evt_x" and request.header("webhook-timestamp")
    assert request.header("webhook-signature") is None
    with pytest.raises(WebhookVerificationError, match="Missing required headers"):
        _verify(RAW_SECRET_WHSEC, request)


def test_a_malformed_whsec_secret_sends_nothing(webhook_receiver) -> None:
    with pytest.raises(ValueError, match="not base64"):
        deliver(WebhookSpec(url=webhook_receiver.url), "succeeded", {}, secret=b"whsec_not base64!")
    assert webhook_receiver.requests == []


def test_event_ids_are_derived_from_uid_and_event() -> None:
    expected = "evt_" + hashlib.sha256(f"{UID}/succeeded".encode()).hexdigest()[:24]
    assert event_id(UID, "succeeded") == expected == event_id(UID, "succeeded")
    assert re.fullmatch(r"evt_[0-9a-f]{24}", expected)
    others = {event_id(UID, "failed"), event_id("another-uid", "succeeded"), event_id(UID, "progress", "30")}
    assert expected not in others and len(others) == 3
    assert event_id(UID, "progress", "30") != event_id(UID, "progress", "40")


def test_the_body_names_its_event_id_and_send_time(webhook_receiver) -> None:
    at = 1_800_000_000.0
    deliver(
        WebhookSpec(url=webhook_receiver.url),
        "succeeded",
        _payload(),
        secret=None,
        delivery_id="evt_abc",
        clock=lambda: at,
    )
    body = json.loads(webhook_receiver.requests[0].body)
    assert (body["event"], body["id"], body["sentAt"]) == ("succeeded", "evt_abc", "2027-01-15T08:00:00Z")
    assert webhook_receiver.requests[0].header("webhook-timestamp") == "1800000000"
