"""Webhook delivery against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from standardwebhooks import Webhook

from reelkube.api.common import WebhookSpec
from reelkube.api.status import Phase
from reelkube.webhooks import deliver, event_payload, is_subscribed, verify_signature

SECRET = b"whsec-test-4f1c"
# The whsec_ form of that raw secret, which Standard Webhooks libraries take.
SECRET_WHSEC = "whsec_" + base64.b64encode(SECRET).decode()
UID = "0a1b2c3d-0000-4000-8000-000000000001"


def _payload() -> dict:
    status = {
        "phase": "Succeeded",
        "outputs": {"video": {"uri": "s3://b/k.mp4"}},
        "webhook": {"state": "Pending"},
    }
    return event_payload("RenderJob", "media", "promo", UID, Phase.SUCCEEDED, status)


class SleepRecorder:
    """A sleep that records the delays asked for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_event_payload_shape() -> None:
    body = _payload()
    assert body["apiVersion"] == "reelkube.io/v1alpha1" and body["kind"] == "RenderJob"
    assert body["metadata"] == {"namespace": "media", "name": "promo", "uid": UID}
    assert body["phase"] == "Succeeded"
    assert "webhook" not in body["status"] and body["status"]["outputs"]["video"]["uri"] == "s3://b/k.mp4"


def test_delivered_with_valid_signature(webhook_receiver) -> None:
    hook = WebhookSpec(url=f"{webhook_receiver.url}/hooks/reel?token=abc")
    result = deliver(hook, "succeeded", _payload(), secret=SECRET)

    assert result.state == "Delivered" and result.attempts == 1 and result.responseCode == 200
    assert result.message is None and result.lastAttemptTime is not None
    (request,) = webhook_receiver.requests
    assert request.method == "POST" and request.path == "/hooks/reel?token=abc"
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Reelkube-Event") == "succeeded"
    assert request.header("X-Reelkube-Delivery") == result.model_extra["deliveryId"]
    # Verified on the receiver side, independently of the sender's helper.
    expected = "sha256=" + hmac.new(SECRET, request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Reelkube-Signature") == expected
    assert verify_signature(request.body, SECRET, request.header("X-Reelkube-Signature"))
    assert not verify_signature(request.body + b" ", SECRET, request.header("X-Reelkube-Signature"))
    # The Standard Webhooks headers, checked with the specification's reference library.
    assert Webhook(SECRET_WHSEC).verify(request.body, request.headers)["event"] == "succeeded"
    assert request.header("webhook-id") == result.model_extra["deliveryId"]
    body = json.loads(request.body)
    assert body["event"] == "succeeded" and body["metadata"]["name"] == "promo"


def test_no_signature_header_without_secret(webhook_receiver) -> None:
    deliver(WebhookSpec(url=webhook_receiver.url), "failed", _payload(), secret=None)
    assert webhook_receiver.requests[0].header("X-Reelkube-Signature") is None
    assert webhook_receiver.requests[0].header("webhook-signature") is None


def test_retried_after_500s_then_delivered_with_a_stable_delivery_id(webhook_receiver) -> None:
    webhook_receiver.respond_with(500, 503, 429)
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=webhook_receiver.url, maxAttempts=5),
        "started",
        _payload(),
        secret=SECRET,
        sleep=sleep,
    )

    assert result.state == "Delivered" and result.attempts == 4 and result.responseCode == 200
    assert sleep.delays == [1.0, 2.0, 4.0]  # exponential backoff
    requests = webhook_receiver.requests
    assert [r.status for r in requests] == [500, 503, 429, 200]
    assert len({r.header("X-Reelkube-Delivery") for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(verify_signature(r.body, SECRET, r.header("X-Reelkube-Signature")) for r in requests)
    assert all(Webhook(SECRET_WHSEC).verify(r.body, r.headers)["event"] == "started" for r in requests)
    assert len({r.header("webhook-id") for r in requests}) == 1


def test_caller_supplied_delivery_id_is_used(webhook_receiver) -> None:
    result = deliver(
        WebhookSpec(url=webhook_receiver.url), "succeeded", {}, secret=None, delivery_id="uid-gen3-succeeded"
    )
    assert webhook_receiver.requests[0].header("X-Reelkube-Delivery") == "uid-gen3-succeeded"
    assert result.model_extra["deliveryId"] == "uid-gen3-succeeded"


def test_4xx_is_final(webhook_receiver) -> None:
    webhook_receiver.respond_with(404)
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=f"{webhook_receiver.url}/x?secret=tok"),
        "failed",
        _payload(),
        secret=None,
        sleep=sleep,
    )
    assert result.state == "Failed" and result.attempts == 1 and result.responseCode == 404
    assert result.message is not None and "HTTP 404" in result.message
    assert "tok" not in result.message  # query strings may hold tokens
    assert sleep.delays == [] and len(webhook_receiver.requests) == 1


def test_gives_up_after_max_attempts(webhook_receiver) -> None:
    webhook_receiver.default_status = 502
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=webhook_receiver.url, maxAttempts=3), "failed", {}, secret=None, sleep=sleep
    )
    assert (result.state, result.attempts, result.responseCode) == ("Failed", 3, 502)
    assert len(webhook_receiver.requests) == 3 and sleep.delays == [1.0, 2.0]


def test_closed_port_gives_up_after_max_attempts(closed_port_url: str) -> None:
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=closed_port_url, maxAttempts=4),
        "succeeded",
        {},
        secret=None,
        sleep=sleep,
        base_delay=0.5,
        max_delay=1.5,
    )
    assert (result.state, result.attempts, result.responseCode) == ("Failed", 4, None)
    assert result.message is not None and "ConnectError" in result.message
    assert sleep.delays == [0.5, 1.0, 1.5]  # capped at max_delay


def test_retry_after_is_honoured_up_to_max_delay(webhook_receiver) -> None:
    webhook_receiver.respond_with((429, {"Retry-After": "3"}), (503, {"Retry-After": "999"}))
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=webhook_receiver.url), "started", {}, secret=None, sleep=sleep, max_delay=30
    )
    assert result.state == "Delivered" and sleep.delays == [3.0, 30.0]


def test_real_waits_between_attempts(webhook_receiver) -> None:
    webhook_receiver.fail_first(2)
    result = deliver(WebhookSpec(url=webhook_receiver.url), "started", {}, secret=None, base_delay=0.01)
    assert result.state == "Delivered" and result.attempts == 3


@pytest.mark.parametrize(("event", "wanted"), [("succeeded", True), ("failed", True), ("progress", False)])
def test_is_subscribed_follows_the_default_events(event: str, wanted: bool) -> None:
    assert is_subscribed(WebhookSpec(url="http://example.invalid/"), event) is wanted
