"""The reconcile decision, one row per branch: what was observed -> the action (no cluster, no kopf).

Each case builds an :class:`Observed` from the support builders, as ``Reconciler._gather`` would
after reading the resource (and, when :func:`needs_job_lookup` says so, its Job and pods).
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from reelkube.api.kinds import RENDER_JOB, Resource
from reelkube.api.status import Phase, ResourceStatus
from reelkube.controller.admission import Placement
from reelkube.controller.decision import (
    INVALID_MESSAGE_LIMIT,
    Action,
    Cancel,
    CountRunning,
    FailInvalid,
    FailStalled,
    Gone,
    KeepPodOutcome,
    MarkJobDeleted,
    Nothing,
    Observe,
    Observed,
    Queue,
    Start,
    StartMerge,
    Trigger,
    decide,
    needs_job_lookup,
)
from reelkube.controller.job_manifests import KUEUE_QUEUE_LABEL
from reelkube.controller.job_observation import SUSPENDED_FOR_KUEUE, ChunkView, JobObservation
from support.resources import (
    CHUNK_JOB_NAME,
    JOB_NAME,
    MERGE_JOB_NAME,
    chunk_pod,
    condition,
    job,
    pod,
    resource_body,
    running,
    terminated,
    waiting,
)

STARTED = "2025-01-01T00:00:05Z"
STOPPED = json.dumps({"reason": "Canceled", "message": "stopped"})
QUEUED_BY_LIMIT = {"phase": "Queued", "reason": "ConcurrencyLimit", "message": "waiting for a free slot"}
CREATED = {"phase": "Queued", "reason": "JobCreated", "jobName": JOB_NAME, "attempts": 0}
CANCEL = {"cancel": True}
RUNNING = {"phase": "Running", "reason": "Running", "jobName": JOB_NAME, "attempts": 1}
POD_DONE = {**RUNNING, "step": "done", "progress": 100, "outputs": {"video": {"uri": "s3://b/v.mp4"}}}


def observed(
    body: dict[str, Any] | None,
    *,
    trigger: Trigger = "reconcile",
    resumed: bool = False,
    job: dict[str, Any] | None = None,
    pods: tuple[dict[str, Any], ...] = (),
    limit: int = 0,
    namespace_limit: int = 0,
    running: int | None = None,
    placement: Placement | None = None,
    now: datetime | None = None,
    stall_seconds: int = 0,
    chunks: int = 1,
    merge_job: dict[str, Any] | None = None,
    merge_pods: tuple[dict[str, Any], ...] = (),
) -> Observed:
    """What the reconciler would have gathered about ``body``."""
    if body is None:
        return Observed(body=None, trigger=trigger, resumed=resumed)
    resource: Resource | None = None
    parse_error = None
    try:
        resource = RENDER_JOB.parse(body)
    except ValidationError as exc:
        parse_error = str(exc)
    return Observed(
        body=body,
        trigger=trigger,
        resumed=resumed,
        status=ResourceStatus.model_validate(body.get("status") or {}),
        resource=resource,
        parse_error=parse_error,
        job=job,
        pods=pods,
        limit=limit,
        namespace_limit=namespace_limit,
        running=running,
        placement=placement,
        now=now,
        stall_seconds=stall_seconds,
        chunks=chunks,
        merge_job=merge_job,
        merge_pods=merge_pods,
    )


PROGRESSED = {**RUNNING, "progress": 42, "step": "rendering", "lastProgressTime": "2025-01-01T00:01:00Z"}
RENDERING = JobObservation(
    phase=Phase.RUNNING,
    reason="Running",
    message="pod p1 is rendering",
    job_name=JOB_NAME,
    attempts=1,
    start_time=STARTED,
)


def at(clock: str) -> datetime:
    """A moment on the first of January 2025 (HH:MM:SS)."""
    return datetime.fromisoformat(f"2025-01-01T{clock}+00:00").astimezone(UTC)


def stuck(
    status: dict[str, Any],
    now: str,
    *,
    started: str = "2025-01-01T00:00:09Z",
    stall_seconds: int = 600,
    trigger: Trigger = "reconcile",
) -> Observed:
    """A running render's resource, observed at ``now`` with its pod running since ``started``."""
    return observed(
        resource_body(status=status),
        trigger=trigger,
        job=job(active=1),
        pods=(pod("p1", "Running", running(started)),),
        now=at(now),
        stall_seconds=stall_seconds,
    )


def deleted(built: dict[str, Any]) -> dict[str, Any]:
    """``built`` (a pod) deleted by someone: its deletionTimestamp set, with the grace period the
    tests' chart gives render pods."""
    built["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:50Z"
    built["spec"]["terminationGracePeriodSeconds"] = 10
    return built


def no_retries(built: dict[str, Any]) -> dict[str, Any]:
    """``built`` (a Job) of a resource with spec.retries 0."""
    built["spec"]["backoffLimit"] = 0
    return built


def failed_input(message: str) -> dict[str, Any]:
    return terminated(2, json.dumps({"reason": "InputNotFound", "message": message}))


CHUNKING = {**RUNNING, "jobName": CHUNK_JOB_NAME, "chunkCount": 2}
TWO_RENDERING = (chunk_pod("c0", 0, "Running", running()), chunk_pod("c1", 1, "Running", running()))
TWO_DONE = (
    chunk_pod("c0", 0, "Succeeded", terminated(0, reason="Completed")),
    chunk_pod("c1", 1, "Succeeded", terminated(0, reason="Completed"), failures=1),
)
BOTH_DONE = ChunkView(count=2, states={0: "Succeeded", 1: "Succeeded"}, attempts={0: 1, 1: 2})
MERGE_POD = (pod("m1", "Running", running("2025-01-01T00:03:00Z")),)


def chunked(status: dict[str, Any], **seen: Any) -> Observed:
    """A chunked render (two windows) with its chunk Job (and merge Job) as ``seen``."""
    return observed(resource_body(status=status, spec={"output": {"chunks": 2}}), chunks=2, **seen)


def chunk_job(conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    built = job(conditions, name=CHUNK_JOB_NAME, **status)
    built["spec"].update(completionMode="Indexed", completions=2, parallelism=2)
    return built


def exited(code: int, finished: str = "2025-01-01T00:02:00Z") -> dict[str, Any]:
    """A container state the kubelet reports first: exited with ``code`` at ``finished`` (the
    pod's phase, and the Job's counts, follow later)."""
    state = terminated(code, reason="Completed" if code == 0 else "Error")
    state["terminated"]["finishedAt"] = finished
    return state


def merge_job(conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return job(conditions, name=MERGE_JOB_NAME, **status)


KUEUE = {"queueName": "team-a"}
WAITING_FOR_KUEUE = JobObservation(
    phase=Phase.QUEUED,
    reason=SUSPENDED_FOR_KUEUE,
    message=(
        f"waiting for Kueue admission on queue team-a (Job {JOB_NAME} is suspended until its"
        " ClusterQueue has quota for it)"
    ),
    job_name=JOB_NAME,
    attempts=0,
)


def kueue_job(*, suspend: bool = True, **status: Any) -> dict[str, Any]:
    """A Job handed to Kueue (queue label), suspended until Kueue admits it; a suspended Job has
    no start time."""
    built = job(**status)
    built["metadata"]["labels"][KUEUE_QUEUE_LABEL] = "team-a"
    built["spec"]["suspend"] = suspend
    if suspend:
        built["status"].pop("startTime")
    return built


@dataclass(frozen=True)
class Case:
    observed: Observed
    action: Action


CASES: dict[str, Case] = {
    # The resource is gone: deletion cascades to the Job, nothing to write.
    "gone": Case(observed(None), Gone()),
    "gone-on-sync": Case(observed(None, trigger="sync"), Gone()),
    "being-deleted": Case(observed(resource_body(status=RUNNING, deleting=True)), Gone()),
    "being-deleted-beats-an-existing-job": Case(
        observed(resource_body(status=RUNNING, deleting=True), job=job(active=1)), Gone()
    ),
    # A terminal phase is final, whatever the Job says now.
    "succeeded-is-final": Case(
        observed(resource_body(status={"phase": "Succeeded"}), job=job(active=1)), Nothing(Phase.SUCCEEDED)
    ),
    "failed-is-final": Case(observed(resource_body(status={"phase": "Failed"})), Nothing(Phase.FAILED)),
    "canceled-is-final-on-sync": Case(
        observed(resource_body(status={"phase": "Canceled"}), trigger="sync"), Nothing(Phase.CANCELED)
    ),
    "terminal-and-invalid-stays-terminal": Case(
        observed(resource_body(status={"phase": "Failed"}, spec={"retries": -1})), Nothing(Phase.FAILED)
    ),
    # A resource that does not validate fails once; a sync leaves that to the reconcile.
    "invalid-fails": Case(
        observed(resource_body(spec={"retries": -1})),
        FailInvalid(observed(resource_body(spec={"retries": -1})).parse_error or ""),
    ),
    "invalid-message-is-clipped": Case(
        Observed(body=resource_body(), parse_error="x" * 5000),
        FailInvalid("x" * INVALID_MESSAGE_LIMIT),
    ),
    "invalid-on-sync-is-left-to-reconcile": Case(
        observed(resource_body(status=CREATED, spec={"retries": -1}), trigger="sync"), Nothing(Phase.QUEUED)
    ),
    # An existing Job is observed, on either trigger, limit or not.
    "job-running": Case(
        observed(resource_body(status=CREATED), job=job(active=1), pods=(pod("p1", "Running", running()),)),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="Running",
                message="pod p1 is rendering",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
            )
        ),
    ),
    "job-complete-on-sync": Case(
        observed(
            resource_body(status=RUNNING),
            trigger="sync",
            job=job([condition("Complete")], succeeded=1, completionTime="2025-01-01T00:02:00Z"),
            pods=(pod("p1", "Succeeded", terminated(0, reason="Completed")),),
        ),
        Observe(
            JobObservation(
                phase=Phase.SUCCEEDED,
                reason="Succeeded",
                message="render finished and outputs uploaded",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:02:00Z",
            )
        ),
    ),
    # The container exited 0 and the pod still reads Running; the Job has not counted it yet.
    # Succeeded now: nothing fails a Job once its pod succeeded, and the Job's view comes 1-3 s
    # later.
    "pod-exited-0-succeeds-before-the-job-completes": Case(
        observed(
            resource_body(status=RUNNING),
            trigger="sync",
            job=job(active=1),
            pods=(pod("p1", "Running", exited(0)),),
        ),
        Observe(
            JobObservation(
                phase=Phase.SUCCEEDED,
                reason="Succeeded",
                message="render finished and outputs uploaded",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:02:00Z",
            )
        ),
    ),
    # An exit other than 0 is left to the Job and its podFailurePolicy (a retry, or Failed).
    "pod-exited-1-waits-for-the-job": Case(
        observed(
            resource_body(status=RUNNING),
            trigger="sync",
            job=job(active=1),
            pods=(pod("p1", "Running", exited(1)),),
        ),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="Running",
                message="pod p1 is rendering; attempt 1 failed: RenderFailed: the render exited with code 1",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
            )
        ),
    ),
    "job-failed-names-the-cause": Case(
        observed(
            resource_body(status=RUNNING),
            job=job([condition("Failed", "PodFailurePolicy")], failed=1),
            pods=(pod("p1", "Failed", failed_input("https://example.com/bg.jpg returned 404")),),
        ),
        Observe(
            JobObservation(
                phase=Phase.FAILED,
                reason="InputNotFound",
                message="https://example.com/bg.jpg returned 404",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:01:00Z",
            )
        ),
    ),
    # A pod stopped from outside (deleted by hand) on the last allowed attempt: Failed with a
    # reason the user can act on, never Canceled (only spec.cancel cancels).
    "pod-deleted-with-no-retries-left-fails-pod-stopped": Case(
        observed(
            resource_body(status=RUNNING, spec={"retries": 0}),
            trigger="sync",
            job=no_retries(job([condition("Failed", "BackoffLimitExceeded")], failed=1)),
            pods=(deleted(pod("p1", "Failed", terminated(143, STOPPED))),),
        ),
        Observe(
            JobObservation(
                phase=Phase.FAILED,
                reason="PodStopped",
                message=(
                    "render pod p1 was deleted (SIGTERM, exit 143) before it finished; spec.retries"
                    " is 0, so it was not retried: apply the resource again to render it"
                ),
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:01:00Z",
            )
        ),
    ),
    "pod-stopped-past-its-grace-is-not-out-of-memory": Case(
        observed(
            resource_body(status=RUNNING),
            trigger="sync",
            job=job([condition("Failed", "PodFailurePolicy")], failed=1),
            pods=(deleted(pod("p1", "Failed", terminated(137))),),
        ),
        Observe(
            JobObservation(
                phase=Phase.FAILED,
                reason="PodStopped",
                message=(
                    "render pod p1 was deleted and did not stop within its grace period of 10s, so the"
                    " kubelet killed it (SIGKILL, exit 137); exit 137 fails the Job at once (it is also"
                    " the code of an out-of-memory kill), so it was not retried: apply the resource"
                    " again to render it, and give the render pods a longer grace period (the chart's"
                    " jobs.terminationGracePeriodSeconds)"
                ),
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:01:00Z",
            )
        ),
    ),
    # The user's cancel wins over what the pods say: the reconciler writes CanceledByUser.
    "cancel-requested-while-the-pod-reports-canceled": Case(
        observed(
            resource_body(status=RUNNING, spec=CANCEL),
            trigger="sync",
            job=job([condition("Failed", "BackoffLimitExceeded")], failed=1),
            pods=(deleted(pod("p1", "Failed", terminated(143, STOPPED))),),
        ),
        Cancel(JOB_NAME),
    ),
    # The operator's own stops wrote their phase before the pod's exit arrives.
    "stopped-pod-after-a-user-cancel-changes-nothing": Case(
        observed(
            resource_body(status={"phase": "Canceled", "reason": "CanceledByUser"}, spec=CANCEL),
            trigger="sync",
            job=job([condition("Failed", "BackoffLimitExceeded")], failed=1),
            pods=(deleted(pod("p1", "Failed", terminated(143, STOPPED))),),
        ),
        Nothing(Phase.CANCELED),
    ),
    "stopped-pod-after-a-stall-changes-nothing": Case(
        observed(
            resource_body(status={"phase": "Failed", "reason": "NoProgress"}),
            trigger="sync",
            job=job([condition("Failed", "BackoffLimitExceeded")], failed=1),
            pods=(deleted(pod("p1", "Failed", terminated(143, STOPPED))),),
        ),
        Nothing(Phase.FAILED),
    ),
    "stopped-pod-at-the-deadline-is-the-deadline": Case(
        observed(
            resource_body(status=RUNNING),
            trigger="sync",
            job=job([condition("Failed", "DeadlineExceeded")], failed=1),
            pods=(deleted(pod("p1", "Failed", terminated(143, STOPPED))),),
        ),
        Observe(
            JobObservation(
                phase=Phase.FAILED,
                reason="DeadlineExceeded",
                message="the render did not finish within its deadline of 600s (spec.timeoutSeconds)",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
                completion_time="2025-01-01T00:01:00Z",
            )
        ),
    ),
    "job-found-by-a-fresh-resource-after-a-409": Case(
        observed(resource_body(), job=job()),
        Observe(
            JobObservation(
                phase=Phase.QUEUED,
                reason="JobCreated",
                message=f"Job {JOB_NAME} created, waiting for its pod to run",
                job_name=JOB_NAME,
                attempts=0,
                start_time=STARTED,
            )
        ),
    ),
    "job-beats-the-limit": Case(
        observed(resource_body(status=QUEUED_BY_LIMIT), job=job(), limit=1, running=5),
        Observe(
            JobObservation(
                phase=Phase.QUEUED,
                reason="JobCreated",
                message=f"Job {JOB_NAME} created, waiting for its pod to run",
                job_name=JOB_NAME,
                attempts=0,
                start_time=STARTED,
            )
        ),
    ),
    # No Job: a sync only copies, so nothing to do.
    "sync-without-a-job": Case(
        observed(resource_body(status=CREATED), trigger="sync"), Nothing(Phase.QUEUED)
    ),
    "sync-of-a-fresh-resource": Case(observed(resource_body(), trigger="sync"), Nothing(None)),
    # No Job, but the status names one: someone deleted it. A cancellation, never a second render.
    "job-deleted": Case(observed(resource_body(status=RUNNING)), MarkJobDeleted(JOB_NAME)),
    "job-deleted-while-queued": Case(
        observed(resource_body(status=CREATED), resumed=True, limit=1, running=0), MarkJobDeleted(JOB_NAME)
    ),
    # ... unless its pod had reported success: then the Job finished and its TTL removed it while
    # no operator watched, and the outcome the pod wrote stands.
    "job-removed-after-the-pod-wrote-its-outputs": Case(
        observed(resource_body(status=POD_DONE), resumed=True), KeepPodOutcome(JOB_NAME)
    ),
    "job-removed-after-success-seen-live": Case(
        observed(resource_body(status=POD_DONE)), KeepPodOutcome(JOB_NAME)
    ),
    "job-deleted-at-100-percent-without-outputs": Case(
        observed(resource_body(status={**POD_DONE, "outputs": None}), resumed=True), MarkJobDeleted(JOB_NAME)
    ),
    "job-deleted-while-uploading-with-some-outputs": Case(
        observed(resource_body(status={**POD_DONE, "step": "uploading", "progress": 99}), resumed=True),
        MarkJobDeleted(JOB_NAME),
    ),
    "pod-outcome-on-sync-is-left-to-reconcile": Case(
        observed(resource_body(status=POD_DONE), trigger="sync"), Nothing(Phase.RUNNING)
    ),
    # No Job and none named: start, unless the limit is reached.
    "fresh-starts": Case(observed(resource_body()), Start()),
    "resumed-without-status-starts": Case(observed(resource_body(), resumed=True), Start()),
    "pending-after-a-failed-create-starts": Case(
        observed(resource_body(status={"phase": "Pending", "reason": "CreateFailed"})), Start()
    ),
    "limit-needs-the-running-count": Case(observed(resource_body(), limit=2), CountRunning()),
    "limit-with-a-free-slot-starts": Case(observed(resource_body(), limit=2, running=1), Start()),
    "limit-reached-queues": Case(observed(resource_body(), limit=2, running=2), Queue(running=2, limit=2)),
    "limit-overrun-queues": Case(
        observed(resource_body(status=QUEUED_BY_LIMIT), limit=1, running=3), Queue(running=3, limit=1)
    ),
    "queued-by-the-limit-starts-when-a-slot-frees": Case(
        observed(resource_body(status=QUEUED_BY_LIMIT), limit=1, running=0), Start()
    ),
    # Priority queues: the admission selection's place for the resource decides (see
    # test_admission for how places are computed).
    "namespace-limit-alone-needs-the-count": Case(
        observed(resource_body(), namespace_limit=2), CountRunning()
    ),
    "placed-first-starts": Case(
        observed(
            resource_body(),
            limit=2,
            running=1,
            placement=Placement(True, "RenderJob", "media", running=1, limit=2),
        ),
        Start(),
    ),
    "a-free-slot-goes-to-the-higher-priority-one-ahead": Case(
        observed(
            resource_body(status=QUEUED_BY_LIMIT),
            limit=2,
            running=1,
            placement=Placement(False, "RenderJob", "media", 2, "cluster", running=2, limit=2),
        ),
        Queue(running=2, limit=2, position=2),
    ),
    "namespace-full-queues-with-its-place-there": Case(
        observed(
            resource_body(),
            limit=10,
            namespace_limit=1,
            running=3,
            placement=Placement(False, "RenderJob", "media", 3, "namespace", running=1, limit=1),
        ),
        Queue(running=1, limit=1, position=3, namespace="media"),
    ),
    "admitted-under-a-namespace-limit-only": Case(
        observed(
            resource_body(status=QUEUED_BY_LIMIT),
            namespace_limit=2,
            running=0,
            placement=Placement(True, "RenderJob", "media", running=0, limit=0),
        ),
        Start(),
    ),
    "a-job-beats-its-queue-place": Case(
        observed(
            resource_body(status=QUEUED_BY_LIMIT),
            job=job(),
            limit=1,
            running=1,
            placement=Placement(False, "RenderJob", "media", 1, "cluster", running=1, limit=1),
        ),
        Observe(
            JobObservation(
                phase=Phase.QUEUED,
                reason="JobCreated",
                message=f"Job {JOB_NAME} created, waiting for its pod to run",
                job_name=JOB_NAME,
                attempts=0,
                start_time=STARTED,
            )
        ),
    ),
    # A running pod whose reported progress stands still past the stall limit: its Job goes.
    "progress-standing-still-fails": Case(stuck(PROGRESSED, "00:12:00"), FailStalled(JOB_NAME, 660)),
    "standing-still-exactly-the-limit-fails": Case(stuck(PROGRESSED, "00:11:00"), FailStalled(JOB_NAME, 600)),
    "standing-still-is-judged-on-sync-too": Case(
        stuck(PROGRESSED, "00:12:00", trigger="sync"), FailStalled(JOB_NAME, 660)
    ),
    "progress-within-the-limit-is-observed": Case(stuck(PROGRESSED, "00:10:59"), Observe(RENDERING)),
    "a-retried-pod-starts-its-clock-afresh": Case(
        stuck(PROGRESSED, "00:12:00", started="2025-01-01T00:10:00Z"), Observe(RENDERING)
    ),
    "no-progress-time-reported-is-never-judged": Case(
        stuck({**PROGRESSED, "lastProgressTime": None}, "05:00:00"), Observe(RENDERING)
    ),
    "stall-check-off": Case(stuck(PROGRESSED, "05:00:00", stall_seconds=0), Observe(RENDERING)),
    "a-pod-not-running-is-not-stalled": Case(
        observed(
            resource_body(status=PROGRESSED),
            job=job(active=1),
            pods=(pod("p2", "Pending", waiting("ContainerCreating")),),
            now=at("05:00:00"),
            stall_seconds=600,
        ),
        Observe(
            JobObservation(
                phase=Phase.QUEUED,
                reason="JobCreated",
                message=f"Job {JOB_NAME} created, waiting for its pod to run",
                job_name=JOB_NAME,
                attempts=1,
                start_time=STARTED,
            )
        ),
    ),
    # spec.cancel: the Job (if any) goes, on either trigger; never a create.
    "cancel-running": Case(
        observed(
            resource_body(status=RUNNING, spec=CANCEL),
            job=job(active=1),
            pods=(pod("p1", "Running", running()),),
        ),
        Cancel(JOB_NAME),
    ),
    "cancel-on-sync": Case(
        observed(resource_body(status=RUNNING, spec=CANCEL), trigger="sync", job=job(active=1)),
        Cancel(JOB_NAME),
    ),
    "cancel-job-created-not-yet-running": Case(
        observed(resource_body(status=CREATED, spec=CANCEL), job=job()), Cancel(JOB_NAME)
    ),
    "cancel-job-found-by-its-name-after-a-crash": Case(
        observed(resource_body(spec=CANCEL), resumed=True, job=job()), Cancel(JOB_NAME)
    ),
    "cancel-named-job-already-gone": Case(
        observed(resource_body(status=RUNNING, spec=CANCEL)), Cancel(JOB_NAME)
    ),
    "cancel-queued-by-the-limit-never-gets-a-job": Case(
        observed(resource_body(status=QUEUED_BY_LIMIT, spec=CANCEL), limit=1, running=0), Cancel(None)
    ),
    "cancel-at-creation": Case(observed(resource_body(spec=CANCEL), limit=1), Cancel(None)),
    "cancel-of-an-invalid-resource": Case(
        observed(resource_body(status=CREATED, spec={**CANCEL, "retries": -1})), Cancel(JOB_NAME)
    ),
    "cancel-false-starts": Case(observed(resource_body(spec={"cancel": False})), Start()),
    "cancel-after-success-changes-nothing": Case(
        observed(resource_body(status={"phase": "Succeeded"}, spec=CANCEL)), Nothing(Phase.SUCCEEDED)
    ),
    "cancel-after-cancel-changes-nothing": Case(
        observed(resource_body(status={"phase": "Canceled"}, spec=CANCEL), trigger="sync"),
        Nothing(Phase.CANCELED),
    ),
    "cancel-of-a-resource-being-deleted": Case(
        observed(resource_body(status=RUNNING, spec=CANCEL, deleting=True)), Gone()
    ),
    # A chunked render: the Indexed Job's windows, then the merge Job.
    "chunks-rendering": Case(
        chunked(CHUNKING, job=chunk_job(active=2), pods=TWO_RENDERING),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="Running",
                message="2 of 2 chunks rendering, 0 done",
                job_name=CHUNK_JOB_NAME,
                attempts=2,
                start_time=STARTED,
            ),
            chunks=ChunkView(count=2, states={0: "Running", 1: "Running"}, attempts={0: 1, 1: 1}),
        ),
    ),
    "chunks-all-rendered-start-the-merge": Case(
        chunked(CHUNKING, job=chunk_job([condition("Complete")], completedIndexes="0-1"), pods=TWO_DONE),
        StartMerge(BOTH_DONE),
    ),
    # Both windows' containers exited 0; the Indexed Job has counted neither: the merge starts.
    "chunks-exited-0-start-the-merge-before-the-job-counts-them": Case(
        chunked(
            CHUNKING,
            trigger="sync",
            job=chunk_job(active=2),
            pods=(chunk_pod("c0", 0, "Succeeded", exited(0)), chunk_pod("c1", 1, "Running", exited(0))),
        ),
        StartMerge(ChunkView(count=2, states={0: "Succeeded", 1: "Succeeded"}, attempts={0: 1, 1: 1})),
    ),
    # One window exited 0 (counted early), the other still renders: one done.
    "one-chunk-exited-0-the-other-rendering": Case(
        chunked(
            CHUNKING,
            trigger="sync",
            job=chunk_job(active=2),
            pods=(chunk_pod("c0", 0, "Running", exited(0)), chunk_pod("c1", 1, "Running", running())),
        ),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="Running",
                message="1 of 2 chunks rendering, 1 done",
                job_name=CHUNK_JOB_NAME,
                attempts=2,
                start_time=STARTED,
            ),
            chunks=ChunkView(count=2, states={0: "Succeeded", 1: "Running"}, attempts={0: 1, 1: 1}),
        ),
    ),
    "chunks-all-rendered-start-the-merge-on-sync-too": Case(
        chunked(
            CHUNKING,
            trigger="sync",
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
        ),
        StartMerge(BOTH_DONE),
    ),
    "a-chunk-failed-permanently-fails-with-its-cause": Case(
        chunked(
            CHUNKING,
            job=chunk_job([condition("Failed", "MaxFailedIndexesExceeded")], failedIndexes="1", failed=2),
            pods=(
                chunk_pod("c0", 0, "Failed", terminated(143, STOPPED)),
                chunk_pod("c1", 1, "Failed", failed_input("https://example.com/b.mp4 returned 404")),
            ),
        ),
        Observe(
            JobObservation(
                phase=Phase.FAILED,
                reason="InputNotFound",
                message="chunk 1 of 2: https://example.com/b.mp4 returned 404",
                job_name=CHUNK_JOB_NAME,
                attempts=2,
                start_time=STARTED,
                completion_time="2025-01-01T00:01:00Z",
            ),
            chunks=ChunkView(count=2, states={0: "Pending", 1: "Failed"}, attempts={0: 1, 1: 1}),
        ),
    ),
    "chunks-standing-still-fail": Case(
        chunked(
            {**CHUNKING, "progress": 40, "lastProgressTime": "2025-01-01T00:01:00Z"},
            job=chunk_job(active=2),
            pods=TWO_RENDERING,
            now=at("00:12:00"),
            stall_seconds=600,
        ),
        FailStalled(CHUNK_JOB_NAME, 660),
    ),
    "merge-running": Case(
        chunked(
            {**CHUNKING, "reason": "Merging"},
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
            merge_job=merge_job(active=1),
            merge_pods=MERGE_POD,
        ),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="Running",
                message="pod m1 is merging 2 chunks",
                job_name=CHUNK_JOB_NAME,
                attempts=4,
                start_time=STARTED,
            ),
            chunks=BOTH_DONE,
        ),
    ),
    "merge-complete-succeeds": Case(
        chunked(
            {**CHUNKING, "reason": "Merging"},
            trigger="sync",
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
            merge_job=merge_job([condition("Complete")], succeeded=1, completionTime="2025-01-01T00:04:00Z"),
            merge_pods=(pod("m1", "Succeeded", terminated(0, reason="Completed")),),
        ),
        Observe(
            JobObservation(
                phase=Phase.SUCCEEDED,
                reason="Succeeded",
                message="render finished and outputs uploaded",
                job_name=CHUNK_JOB_NAME,
                attempts=4,
                start_time=STARTED,
                completion_time="2025-01-01T00:04:00Z",
            ),
            chunks=BOTH_DONE,
        ),
    ),
    # The merge pod exited 0 before its Job completed: Succeeded (never "waiting for its pod").
    "merge-pod-exited-0-succeeds-before-its-job-completes": Case(
        chunked(
            {**CHUNKING, "reason": "Merging"},
            trigger="sync",
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
            merge_job=merge_job(active=1),
            merge_pods=(pod("m1", "Running", exited(0, "2025-01-01T00:04:00Z")),),
        ),
        Observe(
            JobObservation(
                phase=Phase.SUCCEEDED,
                reason="Succeeded",
                message="render finished and outputs uploaded",
                job_name=CHUNK_JOB_NAME,
                attempts=4,
                start_time=STARTED,
                completion_time="2025-01-01T00:04:00Z",
            ),
            chunks=BOTH_DONE,
        ),
    ),
    "merge-standing-still-fails-and-deletes-the-chunk-job": Case(
        chunked(
            {**CHUNKING, "reason": "Merging", "progress": 96, "lastProgressTime": "2025-01-01T00:03:10Z"},
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
            merge_job=merge_job(active=1),
            merge_pods=MERGE_POD,
            now=at("00:13:10"),
            stall_seconds=600,
        ),
        FailStalled(CHUNK_JOB_NAME, 600),
    ),
    "chunk-job-deleted": Case(chunked(CHUNKING), MarkJobDeleted(CHUNK_JOB_NAME)),
    "merge-pod-not-running-yet-stays-running": Case(
        chunked(
            {**CHUNKING, "reason": "Merging"},
            trigger="sync",
            job=chunk_job([condition("Complete")], completedIndexes="0-1"),
            pods=TWO_DONE,
            merge_job=merge_job(active=1),
            merge_pods=(pod("m1", "Pending", waiting("ContainerCreating")),),
        ),
        Observe(
            JobObservation(
                phase=Phase.RUNNING,
                reason="JobCreated",
                message=f"Job {MERGE_JOB_NAME} created, waiting for its pod to run",
                job_name=CHUNK_JOB_NAME,
                attempts=4,
                start_time=STARTED,
            ),
            chunks=BOTH_DONE,
        ),
    ),
    # spec.queueName: Kueue admits the Job (created suspended with its queue label); Reelkube's
    # limits step aside, and the phase follows the Job's suspension.
    "kueue-starts-past-full-limits-without-counting": Case(
        observed(resource_body(spec=KUEUE), limit=1, namespace_limit=1), Start()
    ),
    "kueue-starts-even-when-counted-over-the-limit": Case(
        observed(
            resource_body(spec=KUEUE),
            limit=1,
            running=4,
            placement=Placement(False, "RenderJob", "media", 3, "cluster", 4, 1),
        ),
        Start(),
    ),
    "kueue-suspended-job-waits-for-admission": Case(
        observed(resource_body(status=CREATED, spec=KUEUE), trigger="sync", job=kueue_job()),
        Observe(WAITING_FOR_KUEUE),
    ),
    "kueue-suspended-job-waits-on-reconcile-too": Case(
        observed(resource_body(status=CREATED, spec=KUEUE), job=kueue_job(), limit=1, running=9),
        Observe(WAITING_FOR_KUEUE),
    ),
    "kueue-admitted-job-runs": Case(
        observed(
            resource_body(status=CREATED, spec=KUEUE),
            trigger="sync",
            job=kueue_job(suspend=False, active=1),
            pods=(pod("p1", "Running", running()),),
        ),
        Observe(RENDERING),
    ),
    "kueue-evicted-job-waits-again": Case(
        observed(
            resource_body(status=RUNNING, spec=KUEUE),
            trigger="sync",
            job=kueue_job(active=1),
            pods=(pod("p1", "Running", running()),),
        ),
        Observe(replace(WAITING_FOR_KUEUE, attempts=1)),
    ),
    "kueue-suspended-job-canceled-is-deleted": Case(
        observed(resource_body(status=CREATED, spec={**KUEUE, **CANCEL}), job=kueue_job()), Cancel(JOB_NAME)
    ),
    "kueue-job-gone-before-admission": Case(
        observed(resource_body(status=CREATED, spec=KUEUE)), MarkJobDeleted(JOB_NAME)
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide(case: Case) -> None:
    assert decide(case.observed) == case.action


def test_the_table_covers_every_action() -> None:
    assert {type(case.action) for case in CASES.values()} == set(typing.get_args(Action))


def test_an_invalid_resource_fails_with_the_validation_error() -> None:
    action = decide(observed(resource_body(spec={"retries": -1})))
    assert isinstance(action, FailInvalid) and "retries" in action.message


LOOKUPS: dict[str, tuple[Observed, bool]] = {
    # A fresh resource goes straight to the creates: a 409 on the Job sends it to the lookup.
    "fresh-skips-the-lookup": (observed(resource_body()), False),
    # The CRD's default status (observedGeneration 0) is not a status anyone wrote.
    "defaulted-status-is-fresh": (observed(resource_body(status={"observedGeneration": 0})), False),
    "resumed-looks-up": (observed(resource_body(), resumed=True), True),
    "started-looks-up": (observed(resource_body(status=CREATED)), True),
    "sync-always-looks-up": (observed(resource_body(), trigger="sync"), True),
    "gone-does-not": (observed(None), False),
    "deleting-does-not": (observed(resource_body(status=RUNNING, deleting=True)), False),
    "terminal-does-not": (observed(resource_body(status={"phase": "Succeeded"})), False),
    "invalid-does-not": (observed(resource_body(status=CREATED, spec={"retries": -1})), False),
    "cancel-of-a-started-resource-looks-up": (observed(resource_body(status=CREATED, spec=CANCEL)), True),
    "cancel-at-creation-does-not": (observed(resource_body(spec=CANCEL)), False),
}


@pytest.mark.parametrize(("seen", "lookup"), LOOKUPS.values(), ids=LOOKUPS.keys())
def test_needs_job_lookup(seen: Observed, lookup: bool) -> None:
    assert needs_job_lookup(seen) is lookup
