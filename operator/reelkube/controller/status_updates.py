"""Status updates: the merge patch that takes a resource's status to a new phase, pure.

The phase, its cause and its kstatus conditions come from the reconcile decision or from an
observation of the Job (:mod:`reelkube.controller.job_observation`); the pod writes the live
progress fields itself.
"""

from __future__ import annotations

from typing import Any

from reelkube.api.status import TERMINAL_PHASES, Condition, Phase, ResourceStatus
from reelkube.controller.conditions import (
    mark_failed,
    mark_ready,
    mark_reconciling,
    mark_stalled,
    now_rfc3339,
)
from reelkube.controller.job_observation import SUSPENDED_REASONS, JobObservation


def _conditions_for(
    current: ResourceStatus,
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
    current: ResourceStatus,
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
    drop_outputs: bool = False,
    queue_position: int | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """The merge patch taking ``current`` to ``phase`` (only the fields that change; may be empty).

    Conditions follow the phase: Reconciling until terminal, Ready True on success, Ready False
    and Stalled on failure or when the pod cannot start. ``drop_outputs`` removes the outputs a
    partial run listed (a canceled render has none). ``queue_position`` is written while a
    limit holds the resource back, and removed by any other update.
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
        "queuePosition": queue_position,
    }
    if phase in TERMINAL_PHASES:
        wanted["completionTime"] = completion_time or current.completionTime or now or now_rfc3339()
    if phase == Phase.SUCCEEDED:
        wanted["progress"] = 100
        wanted["step"] = "done"
    have = current.model_dump(mode="json")
    patch = {k: v for k, v in wanted.items() if v is not None and have.get(k) != v}
    if queue_position is None and current.queuePosition is not None:
        patch["queuePosition"] = None
    if drop_outputs and current.outputs is not None:
        patch["outputs"] = None  # null deletes the key in a merge patch
    conditions = [
        c.model_dump(mode="json")
        for c in _conditions_for(current, phase, reason, message, stalled, generation, now)
    ]
    if conditions != [c.model_dump(mode="json") for c in current.conditions or []]:
        patch["conditions"] = conditions
    return patch


FALLBACK_MARK = "(fallback:"
"""In ``status.encoder`` when the pod encodes on the CPU because NVENC failed (see
:meth:`reelkube.engine.encoders.GpuFallback.label`)."""


_PHASE_ORDER = {Phase.PENDING: 0, Phase.QUEUED: 1, Phase.RUNNING: 2}


def _behind(current: ResourceStatus, observed: JobObservation) -> bool:
    """Whether the observation would take the status back to an earlier phase within the same
    attempt. The Job's view lags its pod's: a pod that has just finished, with its Job not yet
    Complete, reads as "waiting for its pod to run", and a watcher would see Running go back to
    Queued one poll before Succeeded. Only a new attempt (a retry's pod) may go back, or a Job
    suspended again (Kueue evicted or preempted it: it truly waits for admission again)."""
    if current.phase not in _PHASE_ORDER or observed.phase not in _PHASE_ORDER:
        return False
    if observed.reason in SUSPENDED_REASONS:
        return False
    same_attempt = observed.attempts <= (current.attempts or 0)
    return same_attempt and _PHASE_ORDER[observed.phase] < _PHASE_ORDER[current.phase]


def update_from_observation(
    current: ResourceStatus, observed: JobObservation, *, generation: int | None
) -> dict[str, Any]:
    """:func:`phase_update` for what :func:`status_from_job` observed; a running render that fell
    back from the GPU encoder (the pod's ``status.encoder``) says so in the message too. Nothing
    (an empty patch) when the observation is behind the status: within one attempt the phase
    only moves forward."""
    if _behind(current, observed):
        return {}
    message = observed.message
    if observed.phase == Phase.RUNNING and current.encoder and FALLBACK_MARK in current.encoder:
        message = f"{message}; encoding on the CPU: {current.encoder}"
    return phase_update(
        current,
        phase=observed.phase,
        reason=observed.reason,
        message=message,
        generation=generation,
        job_name=observed.job_name,
        attempts=observed.attempts,
        start_time=observed.start_time,
        completion_time=observed.completion_time,
        stalled=observed.stalled,
    )
