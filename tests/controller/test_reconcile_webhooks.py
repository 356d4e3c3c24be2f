"""The reconciler's announcements: webhook events delivered to the real loopback receiver and
Kubernetes Events, for phase changes (``sync`` of a Job) and for the live fields the pod writes
(``watch_live``), against an in-memory API that applies status merge patches."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException
from standardwebhooks import Webhook

from reelkube.api.kinds import ResourceKind
from reelkube.controller.events import TransitionEvents
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.notify import REDELIVER_ANNOTATION, WebhookNotifier
from reelkube.controller.reconcile import Reconciler
from reelkube.controller.settings import OperatorSettings
from reelkube.input_policy import InputPolicy
from support.resources import (
    JOB_NAME,
    UID,
    condition,
    job,
    merge_patch,
    pod,
    resource_body,
    running,
    terminated,
)
from support.webhooks import WebhookReceiver, documented_event_id

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cw=="


def eid(name: str) -> str:
    """The documented id of ``event`` or ``event@occurrence``."""
    return documented_event_id(UID, name)


class MemoryApi:
    """One resource, its Job and pods, its Events; status and metadata merge patches applied."""

    def __init__(self, body: dict[str, Any], job: dict[str, Any] | None = None, pods: list[Any] = ()) -> None:
        self.body = copy.deepcopy(body)
        self.job = job
        self.pods = list(pods)
        self.events: list[dict[str, Any]] = []
        self.patches: list[dict[str, Any]] = []
        self.reads = 0
        self._lock = threading.Lock()

    def get_resource(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            self.reads += 1
            return copy.deepcopy(self.body)

    def patch_status(self, kind: ResourceKind, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        with self._lock:
            self.patches.append(copy.deepcopy(dict(patch)))
            self.body["status"] = merge_patch(self.body.get("status") or {}, dict(patch))

    def remove_annotation(self, kind: ResourceKind, namespace: str, name: str, key: str) -> None:
        with self._lock:
            self.body["metadata"].get("annotations", {}).pop(key, None)

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.job)

    def list_job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.pods)

    def list_namespace_annotations(self) -> dict[str, dict[str, str]]:
        return {}

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        return SECRET

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        with self._lock:
            if any(e["metadata"]["name"] == event["metadata"]["name"] for e in self.events):
                raise ApiException(status=409, reason="AlreadyExists")
            self.events.append(copy.deepcopy(dict(event)))


def reconciler(api: MemoryApi) -> tuple[Reconciler, WebhookNotifier, TransitionEvents]:
    metrics = OperatorMetrics()
    events = TransitionEvents(api)
    notifier = WebhookNotifier(
        api,  # type: ignore[arg-type]
        metrics,
        base_delay=0.01,
        max_delay=0.05,
        policy=InputPolicy.cluster(asset_dir=None, allowed_cidrs=["127.0.0.0/8"]),
        events=events,
    )
    rec = Reconciler(api, OperatorSettings(), metrics, notifier, events)  # type: ignore[arg-type]
    return rec, notifier, events


def hooked(
    receiver: WebhookReceiver, events: list[str], status: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    webhook = {"url": receiver.url, "events": events, "secretRef": "hook", **extra}
    return resource_body(status=status, spec={"webhook": webhook})


def received(receiver: WebhookReceiver, count: int) -> list[tuple[str, str]]:
    """(event, webhook-id) of the first ``count`` requests, each verified with the reference library."""
    requests = receiver.wait_for(count)
    out = []
    for request in requests:
        payload = Webhook(SECRET).verify(request.body, request.headers)
        out.append((payload["event"], payload["id"]))
    return out


def test_a_render_seen_queued_then_done_announces_started_voiceover_and_succeeded_in_order(
    webhook_receiver: WebhookReceiver,
) -> None:
    status = {"phase": "Queued", "jobName": JOB_NAME, "attempts": 0}
    body = hooked(webhook_receiver, ["queued", "started", "voiceover_uploaded", "succeeded"], status)
    # The pod ran, wrote its outputs (the narration among them) and ended between two looks.
    body["status"]["outputs"] = {"video": {"uri": "s3://b/v.mp4"}, "voiceover": {"uri": "s3://b/v.wav"}}
    done = job([condition("Complete")], succeeded=1, completionTime="2025-01-01T00:02:00Z")
    api = MemoryApi(body, job=done, pods=[pod("p1", "Succeeded", terminated(0, reason="Completed"))])
    rec, notifier, events = reconciler(api)

    rec.sync("RenderJob", "media", "summer-reel", trigger="job")
    told = received(webhook_receiver, 3)
    rec.sync("RenderJob", "media", "summer-reel", trigger="job")  # a second look changes nothing
    events.close()

    assert told == [
        ("started", eid("started")),
        ("voiceover_uploaded", eid("voiceover_uploaded")),
        ("succeeded", eid("succeeded")),
    ]
    assert len(webhook_receiver.requests) == 3
    # The story in Events: the voice-over, then the success.
    assert [e["reason"] for e in api.events] == ["VoiceoverUploaded", "Succeeded"]
    assert "s3://b/v.wav" in api.events[0]["message"]
    # All three were Pending in the one patch that wrote Succeeded.
    first = api.patches[0]
    assert first["phase"] == "Succeeded"
    assert [d["event"] for d in first["webhook"]["deliveries"]] == [
        "started",
        "voiceover_uploaded",
        "succeeded",
    ]


def test_live_progress_makes_milestones_and_a_redelivery_annotation_resends(
    webhook_receiver: WebhookReceiver,
) -> None:
    status = {"phase": "Running", "jobName": JOB_NAME, "attempts": 1, "progress": 3}
    body = hooked(webhook_receiver, ["progress", "succeeded"], status, progressStep=25)
    api = MemoryApi(body)
    rec, notifier, events = reconciler(api)

    rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    assert api.reads == 0, "nothing due: the watch body alone decides, no request"
    for progress in (31, 38, 52, 60):
        api.body["status"]["progress"] = progress
        rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    told = received(webhook_receiver, 2)
    assert told == [("progress", eid("progress@25")), ("progress", eid("progress@50"))]
    (first, second) = webhook_receiver.requests
    assert first.json()["progress"] == 31 and second.json()["progress"] == 52

    # Redelivery by annotation: the recorded progress events again, same ids, annotation gone.
    api.body["metadata"]["annotations"] = {REDELIVER_ANNOTATION: "progress"}
    rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    again = received(webhook_receiver, 4)[2:]
    assert sorted(again) == sorted(told)
    assert REDELIVER_ANNOTATION not in api.body["metadata"]["annotations"]
    rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    events.close()
    notifier.shutdown()
    assert len(webhook_receiver.requests) == 4
    records = {d["id"]: d for d in api.body["status"]["webhook"]["deliveries"]}
    assert (
        records[eid("progress@25")]["attempts"] == 2 and records[eid("progress@25")]["state"] == "Delivered"
    )
    assert [e["reason"] for e in api.events] == ["WebhookRedelivery"]


def test_a_retry_is_an_event_with_its_cause_told_once(webhook_receiver: WebhookReceiver) -> None:
    status = {"phase": "Running", "jobName": JOB_NAME, "attempts": 1}
    body = resource_body(status=status)
    failed = pod(
        "p1",
        "Failed",
        terminated(75, '{"reason": "InputUnavailable", "message": "https://in.example/a.mp4 answered 503"}'),
    )
    again = pod("p2", "Running", running(), created="2025-01-01T00:00:30Z")
    api = MemoryApi(body, job=job(active=1, failed=1), pods=[failed, again])
    rec, _, events = reconciler(api)
    rec.sync("RenderJob", "media", "summer-reel", trigger="pod")
    api.body["status"]["attempts"] = 1  # a second sync before the write was seen tells it again
    rec.sync("RenderJob", "media", "summer-reel", trigger="pod")
    events.close()
    retries = [e for e in api.events if e["reason"] == "Retry"]
    assert len(retries) == 1
    (retry,) = retries
    assert retry["type"] == "Warning"
    assert retry["message"] == (
        "attempt 2 starting; attempt 1 ended: InputUnavailable: https://in.example/a.mp4 answered 503"
    )
    assert api.body["status"]["attempts"] == 2


def test_a_gpu_fallback_is_one_warning_event() -> None:
    label = "libx264 (fallback: h264_nvenc unavailable: Cannot load libcuda.so.1)"
    body = resource_body(status={"phase": "Running", "encoder": label, "progress": 10})
    api = MemoryApi(body)
    rec, _, events = reconciler(api)
    for _ in range(3):
        rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    events.close()
    (event,) = api.events
    assert (event["type"], event["reason"]) == ("Warning", "GpuEncoderFallback")
    assert label in event["message"]


def test_a_redelivery_asked_of_a_resource_without_a_webhook_is_refused_by_event() -> None:
    body = resource_body(status={"phase": "Succeeded"})
    body["metadata"]["annotations"] = {REDELIVER_ANNOTATION: "all"}
    api = MemoryApi(body)
    rec, _, events = reconciler(api)
    rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    rec.watch_live("RenderJob", "media", "summer-reel", copy.deepcopy(api.body))
    events.close()
    assert REDELIVER_ANNOTATION not in api.body["metadata"]["annotations"]
    (event,) = api.events
    assert (event["type"], event["reason"]) == ("Warning", "WebhookRedeliveryRefused")
    assert event["message"] == "the resource has no spec.webhook to deliver to"
    assert api.patches == []
