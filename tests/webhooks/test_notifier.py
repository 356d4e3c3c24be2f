"""The operator's notifier: real HTTP deliveries to the loopback receiver, outcomes recorded in
``status.webhook.deliveries`` of a resource held by an in-memory stand-in for the API server
(JSON merge patches of the status, as the status subresource applies them)."""

from __future__ import annotations

import base64
import copy
import threading
import time
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from standardwebhooks import Webhook

from reelkube.api.kinds import kind_named
from reelkube.controller.events import TransitionEvents
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.notify import (
    REDELIVER_ANNOTATION,
    WebhookNotifier,
    pending_delivery,
    redelivery_targets,
)
from reelkube.input_policy import InputPolicy
from support.resources import merge_patch
from support.webhooks import documented_event_id

RENDERJOB = kind_named("RenderJob")
UID = "5e0c1a2b-0000-4000-8000-00000000abcd"
SECRET = "hook-secret"
SECRET_WHSEC = "whsec_" + base64.b64encode(SECRET.encode()).decode()


def expected_id(event: str, uid: str = UID) -> str:
    """The documented event id, computed here rather than by Reelkube."""
    return documented_event_id(uid, event)


class FakeCluster:
    """What the notifier needs of the API server: get, status merge patch, Secret keys."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets = secrets or {}
        self.patches: list[dict[str, Any]] = []
        self.fail_reads = False
        self.fail_outcomes = False
        self.events: list[dict[str, Any]] = []
        self.events_lock = threading.Lock()

    def put(self, body: dict[str, Any]) -> None:
        self.objects[(body["metadata"]["namespace"], body["metadata"]["name"])] = copy.deepcopy(body)

    def get_resource(self, adapter: Any, namespace: str, name: str) -> dict[str, Any] | None:
        if self.fail_reads:
            raise RuntimeError("the operator process died here")
        body = self.objects.get((namespace, name))
        return copy.deepcopy(body) if body is not None else None

    def patch_status(self, adapter: Any, namespace: str, name: str, patch: dict[str, Any]) -> None:
        states = {d["state"] for d in (patch.get("webhook") or {}).get("deliveries") or []}
        if self.fail_outcomes and states - {"Pending"}:
            raise RuntimeError("the operator process died here")
        self.patches.append(copy.deepcopy(patch))
        body = self.objects[(namespace, name)]
        body["status"] = merge_patch(body.get("status") or {}, patch)

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get(name) if key == "secret" else None

    def remove_annotation(self, adapter: Any, namespace: str, name: str, key: str) -> None:
        self.objects[(namespace, name)]["metadata"].get("annotations", {}).pop(key, None)

    def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        with self.events_lock:
            if any(e["metadata"]["name"] == event["metadata"]["name"] for e in self.events):
                raise ApiException(status=409, reason="AlreadyExists")
            self.events.append(copy.deepcopy(event))

    def status(self, name: str = "promo") -> dict[str, Any]:
        return self.objects[("media", name)]["status"]


def resource(url: str, *, status: dict[str, Any] | None = None, **webhook: Any) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {
            "namespace": "media",
            "name": "promo",
            "uid": UID,
            "labels": {"team": "ads", "internal": "x"},
            "annotations": {"example.com/order": "A-17", "kubectl.kubernetes.io/last-applied": "{...}"},
        },
        "spec": {"template": "static-ad", "webhook": {"url": url, **webhook}},
        "status": status or {},
    }


def announce(api: FakeCluster, body: dict[str, Any], event: str, **status: Any) -> dict[str, Any]:
    """What the reconciler does for a phase change: one status patch with the Pending delivery,
    then the resource as it now stands is submitted."""
    patch = {**status, "webhook": pending_delivery(event, body)}
    api.patch_status(RENDERJOB, "media", "promo", patch)
    return api.get_resource(RENDERJOB, "media", "promo") or {}


@pytest.fixture
def api() -> FakeCluster:
    return FakeCluster(secrets={"hook": SECRET})


# The receiver is on loopback, which the operator's destination policy refuses unless the chart
# allows it: these tests run with the cluster policy and 127.0.0.0/8 allowed.
LOOPBACK_ALLOWED = InputPolicy.cluster(asset_dir=None, allowed_cidrs=["127.0.0.0/8"])


def notifier(api: FakeCluster, events: TransitionEvents | None = None) -> WebhookNotifier:
    return WebhookNotifier(
        api,  # type: ignore[arg-type]
        OperatorMetrics(),
        workers=4,
        base_delay=0.01,
        max_delay=0.05,
        policy=LOOPBACK_ALLOWED,
        events=events,
    )


def test_a_delivery_is_signed_forwarded_and_recorded(api: FakeCluster, webhook_receiver) -> None:
    body = resource(
        webhook_receiver.url,
        events=["succeeded"],
        secretRef="hook",
        forwardLabels=["team"],
        forwardAnnotations=["example.com/order"],
    )
    api.put(body)
    fresh = announce(
        api,
        body,
        "succeeded",
        phase="Succeeded",
        progress=100,
        completionTime="2026-11-30T06:01:00Z",
        outputs={"video": {"uri": "s3://b/promo.mp4"}},
    )
    notifier(api).submit(RENDERJOB, fresh, "succeeded").result(timeout=10)

    (request,) = webhook_receiver.requests
    payload = Webhook(SECRET_WHSEC).verify(request.body, request.headers)
    assert request.header("webhook-id") == payload["id"] == expected_id("succeeded")
    assert payload["metadata"] == {
        "namespace": "media",
        "name": "promo",
        "uid": UID,
        "labels": {"team": "ads"},
        "annotations": {"example.com/order": "A-17"},
    }
    assert (payload["event"], payload["phase"], payload["progress"]) == ("succeeded", "Succeeded", 100)
    assert payload["outputs"]["video"]["uri"] == "s3://b/promo.mp4"
    assert payload["occurredAt"] == "2026-11-30T06:01:00Z" and payload["sentAt"].endswith("Z")

    webhook = api.status()["webhook"]
    assert (webhook["event"], webhook["state"], webhook["attempts"], webhook["responseCode"]) == (
        "succeeded",
        "Delivered",
        1,
        200,
    )
    (entry,) = webhook["deliveries"]
    assert entry["id"] == expected_id("succeeded") and entry["event"] == "succeeded"
    assert (entry["state"], entry["attempts"], entry["responseCode"]) == ("Delivered", 1, 200)
    assert entry["deliveredTime"] == entry["lastAttemptTime"] and "message" not in entry


def test_retries_after_500s_then_records_every_attempt(api: FakeCluster, webhook_receiver) -> None:
    webhook_receiver.respond_with(500, 503)
    body = resource(webhook_receiver.url, events=["started"], secretRef="hook")
    api.put(body)
    fresh = announce(api, body, "started", phase="Running", startTime="2026-11-30T06:00:00Z")
    notifier(api).submit(RENDERJOB, fresh, "started").result(timeout=10)

    requests = webhook_receiver.requests
    assert [r.status for r in requests] == [500, 503, 200]
    assert {r.header("webhook-id") for r in requests} == {expected_id("started")}
    for request in requests:
        assert (
            Webhook(SECRET_WHSEC).verify(request.body, request.headers)["occurredAt"]
            == "2026-11-30T06:00:00Z"
        )
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"], entry["responseCode"]) == ("Delivered", 3, 200)
    # Each retry was recorded as it happened, before the outcome.
    progress = [
        (d["state"], d["attempts"], d.get("responseCode"))
        for patch in api.patches
        for d in (patch.get("webhook") or {}).get("deliveries") or []
    ]
    assert progress[-3:] == [("Pending", 1, 500), ("Pending", 2, 503), ("Delivered", 3, 200)]
    # status.webhook keeps its meaning: Pending until the outcome.
    assert [p["webhook"].get("state") for p in api.patches] == ["Pending", None, None, "Delivered"]


def test_a_failed_delivery_keeps_its_last_code_and_error(api: FakeCluster, webhook_receiver) -> None:
    webhook_receiver.default_status = 500
    body = resource(f"{webhook_receiver.url}/h?token=t0k", events=["failed"], maxAttempts=2)
    api.put(body)
    fresh = announce(api, body, "failed", phase="Failed")
    notifier(api).submit(RENDERJOB, fresh, "failed").result(timeout=10)

    assert len(webhook_receiver.requests) == 2
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"], entry["responseCode"]) == ("Failed", 2, 500)
    assert "HTTP 500" in entry["message"] and "t0k" not in entry["message"]
    assert "deliveredTime" not in entry
    assert api.status()["webhook"]["state"] == "Failed"


def test_events_of_one_resource_arrive_in_order_each_with_its_record(
    api: FakeCluster, webhook_receiver
) -> None:
    # The first answer is a 503: a parallel sender would let "succeeded" overtake "started".
    webhook_receiver.respond_with(503)
    body = resource(webhook_receiver.url, events=["started", "succeeded"], secretRef="hook")
    api.put(body)
    sender = notifier(api)
    started = sender.submit(RENDERJOB, announce(api, body, "started", phase="Running"), "started")
    body = api.get_resource(RENDERJOB, "media", "promo") or {}
    succeeded = sender.submit(RENDERJOB, announce(api, body, "succeeded", phase="Succeeded"), "succeeded")
    started.result(timeout=10)
    succeeded.result(timeout=10)

    events = [Webhook(SECRET_WHSEC).verify(r.body, r.headers)["event"] for r in webhook_receiver.requests]
    assert events == ["started", "started", "succeeded"]
    webhook = api.status()["webhook"]
    assert [(d["event"], d["state"], d["attempts"]) for d in webhook["deliveries"]] == [
        ("started", "Delivered", 2),
        ("succeeded", "Delivered", 1),
    ]
    # status.webhook describes the latest event, whatever order the outcomes came in.
    assert (webhook["event"], webhook["state"]) == ("succeeded", "Delivered")


def test_a_pending_event_survives_a_restart_with_the_same_id(api: FakeCluster, webhook_receiver) -> None:
    body = resource(webhook_receiver.url, events=["succeeded"], secretRef="hook")
    api.put(body)
    fresh = announce(api, body, "succeeded", phase="Succeeded")

    # The first process delivers, then dies before it can record the outcome.
    api.fail_reads = True
    with pytest.raises(RuntimeError):
        notifier(api).submit(RENDERJOB, fresh, "succeeded").result(timeout=10)
    api.fail_reads = False
    assert api.status()["webhook"]["deliveries"][0]["state"] == "Pending"

    # The next process finds the Pending record and sends the event again, with the same id.
    restarted = notifier(api)
    futures = restarted.resume(RENDERJOB, api.get_resource(RENDERJOB, "media", "promo") or {})
    assert len(futures) == 1
    futures[0].result(timeout=10)

    requests = webhook_receiver.requests
    assert len(requests) == 2
    ids = {Webhook(SECRET_WHSEC).verify(r.body, r.headers)["id"] for r in requests}
    assert ids == {r.header("webhook-id") for r in requests} == {expected_id("succeeded")}
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"]) == ("Delivered", 1)
    # Nothing is pending any more: a third process sends nothing.
    assert notifier(api).resume(RENDERJOB, api.get_resource(RENDERJOB, "media", "promo") or {}) == []


def test_a_receiver_down_across_a_restart_gets_the_event_once(
    api: FakeCluster, webhook_receiver_factory, closed_port_url: str
) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    body = resource(closed_port_url, events=["canceled"], secretRef="hook", maxAttempts=2)
    api.put(body)
    fresh = announce(api, body, "canceled", phase="Canceled")

    # The receiver is down; the process records its first failed attempt, then dies before
    # recording the outcome of its second.
    api.fail_outcomes = True
    with pytest.raises(RuntimeError):
        notifier(api).submit(RENDERJOB, fresh, "canceled").result(timeout=10)
    api.fail_outcomes = False
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"], entry.get("responseCode")) == ("Pending", 1, None)
    assert "ConnectError" in entry["message"]

    receiver = webhook_receiver_factory(port=port)  # both come back
    restarted = notifier(api)
    for future in restarted.resume(RENDERJOB, api.get_resource(RENDERJOB, "media", "promo") or {}):
        future.result(timeout=10)

    (request,) = receiver.requests
    assert Webhook(SECRET_WHSEC).verify(request.body, request.headers)["id"] == expected_id("canceled")
    (entry,) = api.status()["webhook"]["deliveries"]
    # The attempts of both processes add up.
    assert (entry["event"], entry["state"], entry["attempts"]) == ("canceled", "Delivered", 2)
    assert "message" not in entry and entry["responseCode"] == 200


def test_a_pending_status_webhook_from_an_older_operator_is_resumed(
    api: FakeCluster, webhook_receiver
) -> None:
    status = {"phase": "Succeeded", "webhook": {"event": "succeeded", "state": "Pending", "attempts": 0}}
    body = resource(webhook_receiver.url, status=status)
    api.put(body)
    for future in notifier(api).resume(RENDERJOB, body):
        future.result(timeout=10)

    (request,) = webhook_receiver.requests
    assert request.header("webhook-id") == expected_id("succeeded")
    webhook = api.status()["webhook"]
    assert webhook["state"] == "Delivered" and webhook["deliveries"][0]["id"] == expected_id("succeeded")


def test_the_same_event_queued_twice_is_sent_once(api: FakeCluster, webhook_receiver) -> None:
    webhook_receiver.respond_with(503)  # keeps the first event busy while the others queue
    body = resource(webhook_receiver.url, events=["started", "succeeded"])
    api.put(body)
    fresh = announce(api, body, "started", phase="Running")
    sender = notifier(api)
    first = sender.submit(RENDERJOB, fresh, "started")
    again = [sender.submit(RENDERJOB, fresh, "succeeded") for _ in range(3)]
    first.result(timeout=10)
    for future in again:
        future.result(timeout=10)
    assert [r.json()["event"] for r in webhook_receiver.requests] == ["started", "started", "succeeded"]


def test_a_resource_replaced_under_the_same_name_is_not_written(api: FakeCluster, webhook_receiver) -> None:
    body = resource(webhook_receiver.url, events=["succeeded"])
    api.put(body)
    fresh = announce(api, body, "succeeded", phase="Succeeded")
    replacement = resource(webhook_receiver.url)
    replacement["metadata"]["uid"] = "another-uid"
    api.put(replacement)
    patches = len(api.patches)
    notifier(api).submit(RENDERJOB, fresh, "succeeded").result(timeout=10)
    assert len(webhook_receiver.requests) == 1 and len(api.patches) == patches
    assert api.status() == {}


def test_a_malformed_secret_is_recorded_as_failed_and_nothing_is_sent(
    api: FakeCluster, webhook_receiver
) -> None:
    api.secrets["hook"] = "whsec_%%%"
    body = resource(webhook_receiver.url, events=["succeeded"], secretRef="hook")
    api.put(body)
    fresh = announce(api, body, "succeeded", phase="Succeeded")
    notifier(api).submit(RENDERJOB, fresh, "succeeded").result(timeout=10)
    assert webhook_receiver.requests == []
    (entry,) = api.status()["webhook"]["deliveries"]
    assert entry["state"] == "Failed" and "not base64" in entry["message"]


def test_pending_delivery_without_the_resource_is_as_before() -> None:
    assert pending_delivery("started") == {"event": "started", "state": "Pending", "attempts": 0}


def test_redelivery_on_demand_resends_the_event_with_its_id(api: FakeCluster, webhook_receiver) -> None:
    body = resource(webhook_receiver.url, events=["succeeded"], secretRef="hook")
    api.put(body)
    fresh = announce(api, body, "succeeded", phase="Succeeded")
    told = TransitionEvents(api)
    sender = notifier(api, told)
    sender.submit(RENDERJOB, fresh, "succeeded").result(timeout=10)

    api.objects[("media", "promo")]["metadata"]["annotations"][REDELIVER_ANNOTATION] = "succeeded"
    annotated = api.get_resource(RENDERJOB, "media", "promo") or {}
    for future in sender.redeliver_requested(RENDERJOB, annotated):
        future.result(timeout=10)
    told.close()

    first, again = webhook_receiver.requests
    assert first.header("webhook-id") == again.header("webhook-id") == expected_id("succeeded")
    assert Webhook(SECRET_WHSEC).verify(again.body, again.headers)["id"] == expected_id("succeeded")
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"]) == ("Delivered", 2)
    # The record was Pending again before the resend, so a restart in between would resend it.
    assert any(
        [d["state"] for d in (p.get("webhook") or {}).get("deliveries") or []] == ["Pending"]
        for p in api.patches[2:]
    )
    # The annotation is gone (a watch event after this one asks for nothing) and an Event says so.
    assert REDELIVER_ANNOTATION not in api.objects[("media", "promo")]["metadata"]["annotations"]
    (event,) = api.events
    assert event["reason"] == "WebhookRedelivery" and expected_id("succeeded") in event["message"]


def recorded(*events: str, state: str = "Delivered") -> dict[str, Any]:
    """A status whose deliveries hold these events (progress as progress@30)."""
    records = []
    for name in events:
        event = name.partition("@")[0]
        eid = documented_event_id(UID, name)
        records.append({"event": event, "id": eid, "state": state, "attempts": 1})
    return {"phase": "Succeeded", "webhook": {"event": "succeeded", "state": state, "deliveries": records}}


def test_the_annotation_names_all_an_event_or_one_id() -> None:
    status = recorded("started", "progress@30", "progress@60", "succeeded")
    body = resource("https://example.invalid/h", events=["started", "progress", "succeeded"], status=status)
    annotations = body["metadata"]["annotations"]
    ids = [d["id"] for d in status["webhook"]["deliveries"]]

    annotations[REDELIVER_ANNOTATION] = "all"
    assert redelivery_targets(body) == (
        list(zip(["started", "progress", "progress", "succeeded"], ids, strict=True)),
        None,
    )
    annotations[REDELIVER_ANNOTATION] = " progress "
    assert redelivery_targets(body) == ([("progress", ids[1]), ("progress", ids[2])], None)
    annotations[REDELIVER_ANNOTATION] = ids[3]
    assert redelivery_targets(body) == ([("succeeded", ids[3])], None)
    for value, why in (
        ("failed", "no delivery of 'failed' is recorded (recorded events: progress, started, succeeded)"),
        ("evt_000000000000000000000000", "no delivery of 'evt_000000000000000000000000' is recorded"),
        ("", "is empty"),
    ):
        annotations[REDELIVER_ANNOTATION] = value
        targets, refusal = redelivery_targets(body)
        assert targets == [] and refusal is not None and why in refusal
    del body["spec"]["webhook"]
    annotations[REDELIVER_ANNOTATION] = "all"
    assert redelivery_targets(body) == ([], "the resource has no spec.webhook to deliver to")


def test_a_refused_redelivery_removes_the_annotation_and_warns(api: FakeCluster, webhook_receiver) -> None:
    body = resource(webhook_receiver.url, events=["succeeded"], status=recorded("succeeded"))
    body["metadata"]["annotations"][REDELIVER_ANNOTATION] = "canceled"
    api.put(body)
    told = TransitionEvents(api)
    assert (
        notifier(api, told).redeliver_requested(
            RENDERJOB, api.get_resource(RENDERJOB, "media", "promo") or {}
        )
        == []
    )
    told.close()
    assert REDELIVER_ANNOTATION not in api.objects[("media", "promo")]["metadata"]["annotations"]
    (event,) = api.events
    assert (event["type"], event["reason"]) == ("Warning", "WebhookRedeliveryRefused")
    assert "no delivery of 'canceled' is recorded" in event["message"]
    assert webhook_receiver.requests == [] and api.patches == []


def test_failed_attempts_and_a_give_up_are_warning_events(api: FakeCluster, webhook_receiver) -> None:
    webhook_receiver.fail_first(3, status=503)
    body = resource(webhook_receiver.url, events=["failed"], maxAttempts=3)
    api.put(body)
    told = TransitionEvents(api)
    sender = notifier(api, told)
    sender.submit(RENDERJOB, announce(api, body, "failed", phase="Failed"), "failed").result(timeout=10)
    told.close()
    assert api.status()["webhook"]["state"] == "Failed"
    reasons = [(e["type"], e["reason"]) for e in api.events]
    assert reasons == [("Warning", "WebhookRetrying")] * 2 + [("Warning", "WebhookFailed")]
    assert "attempt 3 failed, given up: HTTP 503" in api.events[-1]["message"]
    assert expected_id("failed") in api.events[0]["message"]


def test_a_refused_destination_is_recorded_failed_once_and_nothing_is_sent(
    api: FakeCluster, webhook_receiver
) -> None:
    body = resource("http://169.254.169.254/latest/meta-data/", events=["succeeded"], maxAttempts=5)
    api.put(body)
    notifier(api).submit(RENDERJOB, announce(api, body, "succeeded", phase="Succeeded"), "succeeded").result(
        timeout=10
    )
    record = api.status()["webhook"]
    assert record["state"] == "Failed" and record["attempts"] == 0
    assert "a cloud metadata address" in record["message"] and "spec.webhook.url" in record["message"]
    assert [d["state"] for d in record["deliveries"]] == ["Failed"]


def test_the_notifiers_default_policy_refuses_the_loopback_receiver(
    api: FakeCluster, webhook_receiver
) -> None:
    # Without chart values allowing it, the operator never posts to loopback.
    plain = WebhookNotifier(api, OperatorMetrics(), base_delay=0.01, max_delay=0.05)  # type: ignore[arg-type]
    body = resource(webhook_receiver.url, events=["succeeded"], maxAttempts=5)
    api.put(body)
    plain.submit(RENDERJOB, announce(api, body, "succeeded", phase="Succeeded"), "succeeded").result(
        timeout=10
    )
    record = api.status()["webhook"]
    assert record["state"] == "Failed" and "a loopback address" in record["message"]
    assert webhook_receiver.requests == []


def test_a_receiver_that_is_down_does_not_hold_up_other_resources_webhooks(
    api: FakeCluster, webhook_receiver, closed_port_url: str
) -> None:
    # One worker, and a down receiver whose event retries 4 times a second apart: a worker that
    # slept through the backoff would hold the bystander's event for 4 s.
    down = resource(closed_port_url, events=["succeeded"], maxAttempts=5)
    bystander = copy.deepcopy(resource(webhook_receiver.url, events=["succeeded"]))
    bystander["metadata"].update(name="bystander", uid="6f1d2c3b-0000-4000-8000-00000000beef")
    api.put(down)
    api.put(bystander)
    sender = WebhookNotifier(
        api,  # type: ignore[arg-type]
        OperatorMetrics(),
        workers=1,
        base_delay=1.0,
        max_delay=1.0,
        policy=LOOPBACK_ALLOWED,
    )
    started = time.monotonic()
    retrying = sender.submit(RENDERJOB, down, "succeeded")
    delivered = sender.submit(RENDERJOB, bystander, "succeeded")
    delivered.result(timeout=10)
    assert time.monotonic() - started < 1.5, "the bystander waited for the down receiver's backoff"
    assert not retrying.done()
    assert len(webhook_receiver.requests) == 1
    retrying.result(timeout=20)
    (entry,) = api.status()["webhook"]["deliveries"]
    assert (entry["state"], entry["attempts"]) == ("Failed", 5)
    assert time.monotonic() - started >= 4.0  # the backoff itself was kept
    sender.shutdown()
