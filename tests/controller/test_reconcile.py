"""The reconciler's create path against an in-memory client (no cluster): children are created
concurrently and before the Job, errors stop the Job, and an existing Job is observed, never
duplicated."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from reelkube.api.kinds import ResourceKind
from reelkube.api.status import Phase
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.reconcile import PermanentFailure, Reconciler
from reelkube.controller.settings import OperatorSettings
from support.resources import RENDER_BODY, condition, job, pod, running

FIRST_WAVE = {"ConfigMap", "ServiceAccount", "Role"}
CHILD_KINDS = FIRST_WAVE | {"RoleBinding"}


class FakeClient:
    """Records creates and status patches. The ConfigMap, ServiceAccount and Role creates must
    overlap in time; like the API server's escalation check, a RoleBinding whose Role does not
    exist yet is refused with 404."""

    def __init__(self, *, existing_job: dict[str, Any] | None = None, fail_kind: str | None = None) -> None:
        self.body = copy.deepcopy(RENDER_BODY)
        self.existing_job = existing_job
        self.fail_kind = fail_kind
        self.created: list[str] = []
        self.job_lookups = 0
        self.patches: list[dict[str, Any]] = []
        self.deleted_jobs: list[str] = []
        self._lock = threading.Lock()
        # Every first-wave create waits here for the other two: sequential creates break it.
        self._together = threading.Barrier(len(FIRST_WAVE), timeout=5)

    def get_resource(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.body)

    def list_resources(self, kind: ResourceKind, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.body)] if kind.kind == self.body["kind"] else []

    def list_managed_jobs(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return []

    def list_namespace_annotations(self) -> dict[str, dict[str, str]]:
        return {}

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.job_lookups += 1
        return self.existing_job

    def list_job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return []

    def delete_job(self, namespace: str, name: str) -> bool:
        self.deleted_jobs.append(name)
        return self.existing_job is not None

    def create(self, manifest: Mapping[str, Any]) -> bool:
        kind = manifest["kind"]
        if kind in FIRST_WAVE:
            self._together.wait()
        if kind == "Role":
            time.sleep(0.2)  # a slow Role: a RoleBinding sent beside it finds it missing
        if kind == "RoleBinding":
            with self._lock:
                if "Role" not in self.created:
                    raise ApiException(status=404, reason="NotFound: role not found")
        if kind == self.fail_kind:
            raise ApiException(status=403, reason="Forbidden")
        if kind == "Job":
            with self._lock:
                assert set(self.created) >= CHILD_KINDS, f"Job created before its children: {self.created}"
        with self._lock:
            self.created.append(kind)
        return not (kind == "Job" and self.existing_job is not None)

    def patch_status(self, kind: ResourceKind, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self.patches.append(dict(patch))


def reconciler(client: FakeClient) -> tuple[Reconciler, OperatorMetrics]:
    metrics = OperatorMetrics()
    return Reconciler(client, OperatorSettings(), metrics), metrics  # type: ignore[arg-type]


def jobs_created(metrics: OperatorMetrics) -> float:
    value = metrics.registry.get_sample_value("reelkube_jobs_created_total", {"kind": "RenderJob"})
    return value or 0.0


def test_new_resource_creates_children_together_then_the_job_without_a_lookup() -> None:
    client = FakeClient()
    rec, metrics = reconciler(client)
    phase = rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert phase is Phase.QUEUED
    assert set(client.created[:3]) == FIRST_WAVE and client.created[3:] == ["RoleBinding", "Job"]
    assert client.job_lookups == 0, "a resource with no status goes straight to the creates"
    assert client.patches[-1]["reason"] == "JobCreated"
    assert jobs_created(metrics) == 1


def test_a_failed_child_create_stops_before_the_job() -> None:
    client = FakeClient(fail_kind="Role")
    rec, metrics = reconciler(client)
    with pytest.raises(ApiException):
        rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert "Job" not in client.created
    assert client.patches[-1]["reason"] == "CreateFailed"
    assert jobs_created(metrics) == 0


def test_an_existing_job_is_observed_not_counted_again() -> None:
    job = {"metadata": {"name": "rj-summer-reel-x", "namespace": "media"}, "spec": {}, "status": {}}
    client = FakeClient(existing_job=job)
    rec, metrics = reconciler(client)
    rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert client.created.count("Job") == 1  # the one create, answered 409
    assert client.job_lookups == 1, "a 409 on the Job falls back to reading it"
    assert jobs_created(metrics) == 0
    assert client.patches and client.patches[-1].get("jobName") == "rj-summer-reel-x"


class LimitedClient(FakeClient):
    """A FakeClient whose cluster already runs ``running`` Jobs of ours (plus a finished one)."""

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def list_managed_jobs(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        active = [job(active=1, name=f"rj-busy-{i}") for i in range(self.running)]
        return [*active, job([condition("Complete")], name="rj-done")]


def limited(client: LimitedClient, limit: int) -> Reconciler:
    return Reconciler(client, OperatorSettings(max_running_jobs=limit), OperatorMetrics())  # type: ignore[arg-type]


def test_a_full_limit_queues_without_creating_anything() -> None:
    client = LimitedClient(running=2)
    rec = limited(client, 2)
    phase = rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert phase is Phase.QUEUED
    assert client.created == []
    assert client.patches[-1]["reason"] == "ConcurrencyLimit"
    assert "2 of 2" in client.patches[-1]["message"]


def test_a_free_slot_under_the_limit_creates_the_job() -> None:
    client = LimitedClient(running=1)
    rec = limited(client, 2)
    phase = rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert phase is Phase.QUEUED
    assert client.created[-1] == "Job" and client.patches[-1]["reason"] == "JobCreated"


def test_sync_without_a_job_creates_nothing() -> None:
    client = FakeClient()
    rec, _ = reconciler(client)
    assert rec.sync("RenderJob", "media", "summer-reel", trigger="pod") is None
    rec.close()
    assert client.created == [] and client.patches == [] and client.job_lookups == 1


def test_cancel_deletes_the_job_then_writes_canceled_without_outputs() -> None:
    client = FakeClient(existing_job=job(active=1, name="rj-summer-reel-x"))
    client.body["spec"]["cancel"] = True
    client.body["status"] = {
        "phase": "Running",
        "jobName": "rj-summer-reel-x",
        "outputs": {"thumbnail": {"uri": "s3://b/t.jpg"}},
    }
    rec, _ = reconciler(client)
    phase = rec.reconcile("RenderJob", "media", "summer-reel", trigger="cancel")
    rec.close()
    assert phase is Phase.CANCELED
    assert client.deleted_jobs == ["rj-summer-reel-x"] and client.created == []
    patch = client.patches[-1]
    assert patch["phase"] == "Canceled" and patch["reason"] == "CanceledByUser"
    assert patch["outputs"] is None and "rj-summer-reel-x" in patch["message"]


def test_cancel_while_queued_never_creates_a_job() -> None:
    client = LimitedClient(running=2)
    client.body["spec"]["cancel"] = True
    client.body["status"] = {"phase": "Queued", "reason": "ConcurrencyLimit"}
    rec = limited(client, 2)
    assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="cancel") is Phase.CANCELED
    rec.close()
    assert client.created == [] and client.deleted_jobs == []
    assert client.patches[-1]["reason"] == "CanceledByUser"


def test_a_job_removed_after_its_pod_wrote_the_outputs_is_a_success() -> None:
    client = FakeClient()  # no Job: its TTL removed it while no operator ran
    client.body["status"] = {
        "phase": "Running",
        "jobName": "rj-summer-reel-x",
        "step": "done",
        "progress": 100,
        "outputs": {"video": {"uri": "s3://b/v.mp4"}},
    }
    rec, _ = reconciler(client)
    assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="resume") is Phase.SUCCEEDED
    rec.close()
    assert client.created == []
    patch = client.patches[-1]
    assert patch["phase"] == "Succeeded" and patch["reason"] == "JobCompletedWhileOperatorDown"
    assert "outputs" not in patch, "the outputs the pod wrote stay"


class QueueClient(LimitedClient):
    """A LimitedClient whose cluster also holds ``others`` waiting resources and Namespaces with
    ``annotations``."""

    def __init__(
        self,
        running: int,
        others: list[dict[str, Any]] = (),  # type: ignore[assignment]
        annotations: dict[str, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(running)
        self.others = others
        self.annotations = annotations or {}

    def list_resources(self, kind: ResourceKind, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        others = copy.deepcopy(self.others) if kind.kind == "RenderJob" else []
        return [*super().list_resources(kind, namespaces), *others]

    def get_resource(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
        for other in self.others:
            if other["metadata"]["name"] == name:
                return copy.deepcopy(other)
        return super().get_resource(kind, namespace, name)

    def list_namespace_annotations(self) -> dict[str, dict[str, str]]:
        return self.annotations


def waiting_body(name: str, *, priority: int = 0, created: str = "2024-12-31T00:00:00Z") -> dict[str, Any]:
    body = copy.deepcopy(RENDER_BODY)
    body["metadata"].update(name=name, creationTimestamp=created, uid=f"uid-{name}")
    body["spec"]["priority"] = priority
    body["status"] = {"phase": "Queued", "reason": "ConcurrencyLimit"}
    return body


def test_a_free_slot_goes_to_the_higher_priority_resource_waiting() -> None:
    client = QueueClient(running=1, others=[waiting_body("urgent", priority=5)])
    rec = limited(client, 2)
    assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="create") is Phase.QUEUED
    rec.close()
    assert client.created == []
    patch = client.patches[-1]
    assert patch["reason"] == "ConcurrencyLimit" and patch["queuePosition"] == 1
    assert patch["message"] == "1st in the RenderJob queue: 2 of 2 running cluster-wide"


def test_a_namespace_annotation_limits_that_namespace() -> None:
    from reelkube.controller.admission import MAX_RUNNING_ANNOTATION

    client = QueueClient(running=1, annotations={"media": {MAX_RUNNING_ANNOTATION: "1"}})
    rec = limited(client, 0)
    assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="create") is Phase.QUEUED
    rec.close()
    patch = client.patches[-1]
    assert patch["reason"] == "NamespaceLimit" and patch["queuePosition"] == 1
    assert patch["message"] == "1st in namespace media: 1 of 1 RenderJobs running there"


def test_starting_clears_the_queue_position() -> None:
    client = QueueClient(running=0)
    client.body["status"] = {"phase": "Queued", "reason": "ConcurrencyLimit", "queuePosition": 1}
    rec = limited(client, 1)
    rec.reconcile("RenderJob", "media", "summer-reel", trigger="admission")
    rec.close()
    assert client.created[-1] == "Job"
    assert client.patches[-1]["reason"] == "JobCreated" and client.patches[-1]["queuePosition"] is None


def test_the_admission_round_writes_moved_positions_without_starting() -> None:
    from reelkube.controller.admission import Admission

    client = QueueClient(running=2, others=[waiting_body("urgent", priority=5)])
    client.body["status"] = {"phase": "Queued", "reason": "ConcurrencyLimit", "queuePosition": 1}
    rec = limited(client, 2)
    Admission(rec).admit_waiting()
    rec.close()
    assert client.created == []
    # Both moved (the urgent one had no place yet): each written once, in queue order.
    assert [p["queuePosition"] for p in client.patches] == [1, 2]
    assert client.patches[1]["message"] == "2nd in the RenderJob queue: 2 of 2 running cluster-wide"


class EventingClient(FakeClient):
    """A FakeClient that records Events, or refuses them (no RBAC for events)."""

    def __init__(self, *, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.events: list[dict[str, Any]] = []

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        if self.refuse:
            raise ApiException(status=403, reason="Forbidden")
        self.events.append(dict(event))


def test_a_phase_change_emits_an_event_and_a_refused_event_changes_nothing() -> None:
    from reelkube.controller.events import TransitionEvents

    for refuse in (False, True):
        client = EventingClient(refuse=refuse)
        rec = Reconciler(client, OperatorSettings(), OperatorMetrics(), events=TransitionEvents(client))  # type: ignore[arg-type]
        assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="create") is Phase.QUEUED
        rec.close()
        assert client.created[-1] == "Job" and client.patches[-1]["reason"] == "JobCreated"
        if refuse:
            assert client.events == []
        else:
            assert [(e["reason"], e["involvedObject"]["name"]) for e in client.events] == [
                ("Queued", "summer-reel")
            ]


class RunningPodClient(FakeClient):
    """A FakeClient whose Job has one pod running since ``started``."""

    def __init__(self, started: str) -> None:
        super().__init__(existing_job=job(active=1, name="rj-summer-reel-x"))
        self.started = started

    def list_job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return [pod("p1", "Running", running(self.started))]


def test_a_render_standing_still_past_the_limit_fails_and_its_job_goes() -> None:
    client = RunningPodClient(started="2025-01-01T00:00:09Z")
    client.body["status"] = {
        "phase": "Running",
        "jobName": "rj-summer-reel-x",
        "progress": 42,
        "step": "rendering",
        "lastProgressTime": "2025-01-01T00:01:00Z",  # long ago: the test runs years later
    }
    rec = Reconciler(client, OperatorSettings(stall_seconds=600), OperatorMetrics())  # type: ignore[arg-type]
    assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="stall-check") is Phase.FAILED
    rec.close()
    assert client.deleted_jobs == ["rj-summer-reel-x"]
    patch = client.patches[-1]
    assert patch["reason"] == "NoProgress" and "at 42%, step rendering" in patch["message"]
    assert "jobs.stallSeconds (600s)" in patch["message"]


def test_storage_the_chart_forbids_fails_the_resource_before_any_object() -> None:
    """storage.allowSpecStorage is false by default: a bucket of its own is StorageForbidden."""
    client = FakeClient()
    client.body["spec"]["storage"] = {"bucket": "another-tenants-bucket"}
    rec, metrics = reconciler(client)
    with pytest.raises(PermanentFailure, match="spec.storage.bucket"):
        rec.reconcile("RenderJob", "media", "summer-reel", trigger="create")
    rec.close()
    assert client.created == []
    assert client.patches[-1]["phase"] == "Failed" and client.patches[-1]["reason"] == "StorageForbidden"
    assert "spec.storage.bucket is not allowed" in client.patches[-1]["message"]
    assert jobs_created(metrics) == 0
