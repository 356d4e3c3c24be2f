"""Observation: what a Job and its pods say about a resource (:func:`status_from_job`), pure.

Turning an observation into a status patch is :mod:`reelkube.controller.status_updates`.
The operator writes the phase and its cause; the pod writes the live progress fields. A failure
is explained by what the user can act on, in this order: the Job's deadline; the runner's
termination message (JSON ``{"reason", "message"}`` from a ``ReelkubeError``); the kernel's
OOM kill; the container's exit; only then the Job's own condition ("BackoffLimitExceeded" alone
tells nobody anything).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reelkube.api.pod_contract import CONTAINER_NAME, EXIT_KILLED, TerminationMessage
from reelkube.api.status import Phase

Obj = Mapping[str, Any]

# Waiting reasons that will not clear up on their own.
STUCK_WAITING_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
_MESSAGE_LIMIT = 1024


@dataclass(frozen=True)
class JobObservation:
    """The operator's view of a resource, derived from its Job and pods."""

    phase: Phase
    reason: str
    message: str
    job_name: str
    attempts: int
    start_time: str | None = None
    completion_time: str | None = None
    stalled: bool = False
    """The pod cannot start without someone acting (bad image, missing Secret, ...)."""


def job_finished(job: Obj) -> bool:
    """Whether the Job has ended (Complete or Failed): it no longer holds a running slot."""
    return _condition(job, "Complete") is not None or _condition(job, "Failed") is not None


def _condition(job: Obj, type_: str) -> Obj | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("type") == type_ and cond.get("status") == "True":
            return cond
    return None


def _container_status(pod: Obj) -> Obj:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER_NAME:
            return status
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def _sorted(pods: Sequence[Obj]) -> list[Obj]:
    return sorted(
        pods, key=lambda p: (p.get("metadata", {}).get("creationTimestamp") or "", p["metadata"]["name"])
    )


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MESSAGE_LIMIT else "…" + text[-_MESSAGE_LIMIT:]


def failure_cause(pod: Obj) -> tuple[str, str] | None:
    """(reason, message) explaining why ``pod``'s render container ended unsuccessfully."""
    terminated = (_container_status(pod).get("state") or {}).get("terminated")
    if not terminated:
        if pod.get("status", {}).get("phase") == "Failed":
            return pod["status"].get("reason") or "PodFailed", _clip(
                pod["status"].get("message") or "pod failed"
            )
        return None
    if terminated.get("exitCode", 1) == 0:
        return None
    raw = terminated.get("message") or ""
    # The kubelet's word first: a runner killed mid-write may leave a message that is not why.
    if terminated.get("reason") == "OOMKilled":
        return OUT_OF_MEMORY, out_of_memory_message(_container_limits(pod).get("memory"))
    written = TerminationMessage.parse(raw)
    if written is not None:
        return written.reason, _clip(written.message)
    code = terminated.get("exitCode")
    tail = f": {_clip(raw)}" if raw.strip() else ""
    if code == EXIT_KILLED:
        if _disrupted(pod):
            return "Disrupted", f"the pod was stopped by the cluster (exit code {code}): retried, not counted"
        return "Killed", (
            f"the render was killed (exit code {code}, SIGKILL) without the kubelet naming an OOM; "
            "it did not stop within its grace period or ran out of memory: raise spec.resources.memory"
            f"{tail}"
        )
    return "RenderFailed", f"the render exited with code {code}{tail}"


OUT_OF_MEMORY = "OutOfMemory"


def out_of_memory_message(limit: str | None) -> str:
    """What an OOM-killed render tells the user: the limit it hit and the field that raises it."""
    if not limit:
        return "the render ran out of memory: set spec.resources.memory to give it a memory limit"
    return (
        f"the render ran out of memory at its limit of {limit}: raise spec.resources.memory above "
        f"{limit} (or the chart's default for the kind); not retried, it would fail the same way"
    )


def _disrupted(pod: Obj) -> bool:
    """Whether the cluster stopped the pod (eviction, preemption, node loss): the Job's
    podFailurePolicy retries such a pod without counting it against spec.retries."""
    return any(
        cond.get("type") == "DisruptionTarget" and cond.get("status") == "True"
        for cond in pod.get("status", {}).get("conditions") or []
    )


def _container_limits(pod: Obj) -> Mapping[str, str]:
    for container in pod.get("spec", {}).get("containers") or []:
        if container.get("name") == CONTAINER_NAME:
            return container.get("resources", {}).get("limits") or {}
    return {}


def _waiting(pod: Obj) -> tuple[str, str] | None:
    waiting = (_container_status(pod).get("state") or {}).get("waiting")
    if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
        return waiting["reason"], _clip(waiting.get("message") or waiting["reason"])
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("reason") or "Unschedulable", _clip(
                cond.get("message") or "pod not scheduled yet"
            )
    return None


def status_from_job(job: Obj, pods: Sequence[Obj]) -> JobObservation:
    """The phase, cause and timing of a resource from its Job and the Job's pods (API JSON)."""
    status = job.get("status", {})
    name = job["metadata"]["name"]
    ordered = _sorted(pods)
    attempts = max(
        len(ordered),
        int(status.get("succeeded", 0)) + int(status.get("failed", 0)) + int(status.get("active", 0)),
    )
    start = status.get("startTime")
    failed_pods = [p for p in ordered if failure_cause(p) is not None]

    complete = _condition(job, "Complete")
    if complete:
        return JobObservation(
            phase=Phase.SUCCEEDED,
            reason="Succeeded",
            message="render finished and outputs uploaded",
            job_name=name,
            attempts=attempts,
            start_time=start,
            completion_time=status.get("completionTime") or complete.get("lastTransitionTime"),
        )

    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed:
        finished = failed.get("lastTransitionTime")
        if failed.get("reason") == "DeadlineExceeded":
            deadline = job.get("spec", {}).get("activeDeadlineSeconds")
            return JobObservation(
                phase=Phase.FAILED,
                reason="DeadlineExceeded",
                message=f"the render did not finish within its deadline of {deadline}s (spec.timeoutSeconds)",
                job_name=name,
                attempts=attempts,
                start_time=start,
                completion_time=finished,
            )
        cause = failure_cause(failed_pods[-1]) if failed_pods else None
        reason, message = cause or (
            failed.get("reason") or "Failed",
            _clip(failed.get("message") or "the Job failed"),
        )
        if attempts > 1 and cause:
            message = f"{message} (after {attempts} attempts)"
        return JobObservation(
            phase=Phase.CANCELED if reason == "Canceled" else Phase.FAILED,
            reason=reason,
            message=message,
            job_name=name,
            attempts=attempts,
            start_time=start,
            completion_time=finished,
        )

    previous = ""
    if failed_pods:
        cause = failure_cause(failed_pods[-1])
        assert cause is not None
        previous = f"; attempt {len(failed_pods)} failed: {cause[0]}: {cause[1]}"
        if _disrupted(failed_pods[-1]) and cause[0] != "Disrupted":
            previous += " (stopped by the cluster: not counted against spec.retries)"
    current = ordered[-1] if ordered else None
    if current is not None and current.get("status", {}).get("phase") == "Running":
        running = (_container_status(current).get("state") or {}).get("running") or {}
        return JobObservation(
            phase=Phase.RUNNING,
            reason="Running",
            message=f"pod {current['metadata']['name']} is rendering{previous}",
            job_name=name,
            attempts=attempts,
            start_time=start or running.get("startedAt"),
        )
    waiting = _waiting(current) if current is not None else None
    if waiting:
        return JobObservation(
            phase=Phase.QUEUED,
            reason=waiting[0],
            message=waiting[1] + previous,
            job_name=name,
            attempts=attempts,
            start_time=start,
            stalled=waiting[0] in STUCK_WAITING_REASONS,
        )
    return JobObservation(
        phase=Phase.QUEUED,
        reason="JobCreated",
        message=f"Job {name} created, waiting for its pod to run{previous}",
        job_name=name,
        attempts=attempts,
        start_time=start,
    )
