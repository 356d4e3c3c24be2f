"""What a Job and its pods say about a resource: :func:`status_from_job`, pure.

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

from reelkube.api.pod_contract import CONTAINER_NAME, TerminationMessage
from reelkube.api.status import TERMINAL_PHASES, Condition, JobStatus, Phase
from reelkube.controller.conditions import (
    mark_failed,
    mark_ready,
    mark_reconciling,
    mark_stalled,
    now_rfc3339,
)

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
class StatusPatch:
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
    written = TerminationMessage.parse(raw)
    if written is not None:
        return written.reason, _clip(written.message)
    if terminated.get("reason") == "OOMKilled":
        limit = (_container_limits(pod)).get("memory", "its limit")
        return "OutOfMemory", f"the render ran out of memory ({limit}): raise spec.resources.memory"
    code = terminated.get("exitCode")
    tail = f": {_clip(raw)}" if raw.strip() else ""
    return "RenderFailed", f"the render exited with code {code}{tail}"


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


def status_from_job(job: Obj, pods: Sequence[Obj]) -> StatusPatch:
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
        return StatusPatch(
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
            return StatusPatch(
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
        return StatusPatch(
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
    current = ordered[-1] if ordered else None
    if current is not None and current.get("status", {}).get("phase") == "Running":
        running = (_container_status(current).get("state") or {}).get("running") or {}
        return StatusPatch(
            phase=Phase.RUNNING,
            reason="Running",
            message=f"pod {current['metadata']['name']} is rendering{previous}",
            job_name=name,
            attempts=attempts,
            start_time=start or running.get("startedAt"),
        )
    waiting = _waiting(current) if current is not None else None
    if waiting:
        return StatusPatch(
            phase=Phase.QUEUED,
            reason=waiting[0],
            message=waiting[1] + previous,
            job_name=name,
            attempts=attempts,
            start_time=start,
            stalled=waiting[0] in STUCK_WAITING_REASONS,
        )
    return StatusPatch(
        phase=Phase.QUEUED,
        reason="JobCreated",
        message=f"Job {name} created, waiting for its pod to run{previous}",
        job_name=name,
        attempts=attempts,
        start_time=start,
    )


def _conditions_for(
    current: JobStatus,
    phase: Phase,
    reason: str,
    message: str,
    stalled: bool,
    generation: int | None,
    now: str | None,
) -> list[Condition]:
    existing = current.conditions or []
    if phase == Phase.SUCCEEDED:
        return mark_ready(existing, reason, message, generation=generation, now=now)
    if phase in (Phase.FAILED, Phase.CANCELED):
        return mark_failed(existing, reason, message, generation=generation, now=now)
    if stalled:
        return mark_stalled(existing, reason, message, generation=generation, now=now)
    return mark_reconciling(existing, reason, message, generation=generation, now=now)


def phase_update(
    current: JobStatus,
    *,
    phase: Phase,
    reason: str,
    message: str,
    generation: int | None,
    job_name: str | None = None,
    attempts: int | None = None,
    start_time: str | None = None,
    completion_time: str | None = None,
    stalled: bool = False,
    now: str | None = None,
) -> dict[str, Any]:
    """The merge patch taking ``current`` to ``phase`` (only the fields that change; may be empty).

    Conditions follow the phase: Reconciling until terminal, Ready True on success, Ready False
    and Stalled on failure or when the pod cannot start.
    """
    if current.phase in TERMINAL_PHASES and phase != current.phase:
        return {}  # a terminal phase is final; late events must not reopen it
    wanted: dict[str, Any] = {
        "phase": phase.value,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "jobName": job_name,
        "attempts": attempts,
        "startTime": start_time,
    }
    if phase in TERMINAL_PHASES:
        wanted["completionTime"] = completion_time or current.completionTime or now or now_rfc3339()
    if phase == Phase.SUCCEEDED:
        wanted["progress"] = 100
        wanted["step"] = "done"
    have = current.model_dump(mode="json")
    patch = {k: v for k, v in wanted.items() if v is not None and have.get(k) != v}
    conditions = [
        c.model_dump(mode="json")
        for c in _conditions_for(current, phase, reason, message, stalled, generation, now)
    ]
    if conditions != [c.model_dump(mode="json") for c in current.conditions or []]:
        patch["conditions"] = conditions
    return patch


def update_from_patch(current: JobStatus, observed: StatusPatch, *, generation: int | None) -> dict[str, Any]:
    """:func:`phase_update` for what :func:`status_from_job` observed."""
    return phase_update(
        current,
        phase=observed.phase,
        reason=observed.reason,
        message=observed.message,
        generation=generation,
        job_name=observed.job_name,
        attempts=observed.attempts,
        start_time=observed.start_time,
        completion_time=observed.completion_time,
        stalled=observed.stalled,
    )


WEBHOOK_EVENTS = {
    Phase.RUNNING: "started",
    Phase.SUCCEEDED: "succeeded",
    Phase.FAILED: "failed",
    Phase.CANCELED: "canceled",
}


def webhook_event(old: Phase | None, new: Phase | None) -> str | None:
    """The webhook event a phase change announces, if any."""
    if new is None or old == new:
        return None
    return WEBHOOK_EVENTS.get(new)
