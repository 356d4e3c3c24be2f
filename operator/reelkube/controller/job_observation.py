"""Observation: what a Job and its pods say about a resource (:func:`status_from_job`), pure.

Turning an observation into a status patch is :mod:`reelkube.controller.status_updates`.
The operator writes the phase and its cause; the pod writes the live progress fields. A failure
is explained by what the user can act on, in this order: the Job's deadline; the kernel's OOM
kill; a pod stopped from outside (SIGTERM, or SIGKILL after the grace period of a deleted pod);
the runner's termination message (JSON ``{"reason", "message"}`` from a ``ReelkubeError``); the
container's exit; only then the Job's own condition ("BackoffLimitExceeded" alone tells nobody
anything).

A stopped pod is never a cancel: a user's cancel (``spec.cancel``) and the operator's own stops
(stall, scratch full) are decided by the operator, which deletes the Job and writes their phase
itself, so a Job that *fails* on a stopped pod was stopped by someone else (a pod deleted by
hand, a node shut down) on its last allowed attempt: Failed, reason :data:`POD_STOPPED`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from reelkube.api.pod_contract import (
    CHUNK_INDEX_LABEL,
    CONTAINER_NAME,
    EXIT_CANCELED,
    EXIT_KILLED,
    TerminationMessage,
)
from reelkube.api.status import Phase
from reelkube.controller.job_manifests import KUEUE_QUEUE_LABEL

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


def _failed_by_a_pod(job: Obj) -> bool:
    """Whether a pod's exit failed the Job through its podFailurePolicy (FailJob)."""
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    return failed is not None and failed.get("reason") == "PodFailurePolicy"


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


def _exit_code(pod: Obj) -> int | None:
    terminated = (_container_status(pod).get("state") or {}).get("terminated") or {}
    code = terminated.get("exitCode")
    return code if isinstance(code, int) else None


def ended_well(pod: Obj) -> bool:
    """Whether ``pod``'s render container exited 0: its render is done, outputs uploaded and the
    final status written (the runner's last acts), and with ``restartPolicy: Never`` the pod is
    Succeeded for good. Seen on the pod 1-3 s before the Job says so: the kubelet reports the
    container's exit first and the pod's phase a second later, then the Job controller counts
    the pod and completes the Job in a batched sync of its own."""
    return _exit_code(pod) == 0 or (pod.get("status") or {}).get("phase") == "Succeeded"


def _one_completion(job: Obj) -> bool:
    """Whether one pod's success completes ``job`` (a render, TTS or merge Job; not the Indexed
    Job of a chunked render, done when every index is)."""
    spec = job.get("spec") or {}
    return spec.get("completionMode") != "Indexed" and int(spec.get("completions") or 1) == 1


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
    code = terminated.get("exitCode")
    if code == EXIT_CANCELED:
        # SIGTERM: the runner's own exit (its message says "Canceled", which is not the user's
        # cancel: see the module docstring), or the signal's default action before the runner
        # had installed its handler (no message at all).
        return POD_STOPPED, f"{_pod_said(pod)} (SIGTERM, exit {code}) before it finished"
    written = TerminationMessage.parse(raw)
    if written is not None:
        return written.reason, _clip(written.message)
    tail = f": {_clip(raw)}" if raw.strip() else ""
    if code == EXIT_KILLED:
        if _disrupted(pod):
            return "Disrupted", f"the pod was stopped by the cluster (exit code {code}): retried, not counted"
        if _deleted(pod):
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            within = f" of {grace}s" if grace is not None else ""
            return POD_STOPPED, (
                f"{_pod_said(pod)} and did not stop within its grace period{within}, so the kubelet"
                f" killed it (SIGKILL, exit {code}){tail}"
            )
        return "Killed", (
            f"the render was killed (exit code {code}, SIGKILL) without the kubelet naming an OOM; "
            "it did not stop within its grace period or ran out of memory: raise spec.resources.memory"
            f"{tail}"
        )
    return "RenderFailed", f"the render exited with code {code}{tail}"


POD_STOPPED = "PodStopped"
"""Reason of a render pod stopped from outside before it finished (deleted, its node shut down):
exit 143 after SIGTERM, or 137 when a deleted pod outlived its grace period."""


def _pod_said(pod: Obj) -> str:
    """``render pod NAME was deleted`` (it has a deletionTimestamp) or ``... was stopped``."""
    how = "deleted" if _deleted(pod) else "stopped"
    return f"render pod {pod.get('metadata', {}).get('name', '?')} was {how}"


def _deleted(pod: Obj) -> bool:
    """Whether someone deleted the pod (the API server set its deletionTimestamp)."""
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def stopped_on_last_attempt(job: Obj, attempts: int, *, killed: bool) -> str:
    """Why a Job that failed on a stopped pod (:data:`POD_STOPPED`) did not start another: what
    follows the pod's cause in the message, with what the user can do about it. ``killed``: the
    pod ended with SIGKILL after its grace period (137), not with its own exit on SIGTERM."""
    if killed:
        # The podFailurePolicy fails the Job at once on 137, whatever spec.retries says.
        return (
            "; exit 137 fails the Job at once (it is also the code of an out-of-memory kill), so"
            " it was not retried: apply the resource again to render it, and give the render"
            " pods a longer grace period (the chart's jobs.terminationGracePeriodSeconds)"
        )
    retries = (job.get("spec") or {}).get("backoffLimit")
    if not retries:
        return "; spec.retries is 0, so it was not retried: apply the resource again to render it"
    return f"; it was the last of {attempts} attempts (spec.retries is {retries}): apply the resource again"


OUT_OF_MEMORY = "OutOfMemory"


def out_of_memory_message(limit: str | None) -> str:
    """What an OOM-killed render tells the user: the limit it hit and the field that raises it."""
    if not limit:
        return "the render ran out of memory: set spec.resources.memory to give it a memory limit"
    return (
        f"the render ran out of memory at its limit of {limit}: raise spec.resources.memory above "
        f"{limit} (or the chart's default for the kind); not retried, it would fail the same way"
    )


SCRATCH_FULL = "ScratchFull"
_STORAGE_EVICTIONS = ("EmptyDir volume", "ephemeral local storage", "ephemeral-storage")


def scratch_full_message(pod: Obj) -> str | None:
    """What to tell the user when the kubelet evicted ``pod`` for using more local disk than it
    may (a volume's sizeLimit or the container's ephemeral-storage limit); None otherwise.

    Such an eviction carries DisruptionTarget, which the Job's podFailurePolicy ignores as a
    disruption: left alone, the Job would start the same render and lose it the same way, forever.
    """
    status = pod.get("status", {})
    said = (status.get("message") or "").strip()
    if status.get("reason") != "Evicted" or not any(mark in said for mark in _STORAGE_EVICTIONS):
        return None
    raise_it = (
        "the chart's jobs.tmpSizeLimit (the /tmp volume)"
        if 'volume "tmp"' in said
        else "spec.resources.ephemeralStorage (the work volume and the pod's disk limit)"
    )
    return _clip(
        f"the render ran out of scratch disk: {said} Raise {raise_it}; not retried, it would fail"
        " the same way"
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
    # Pods ended but not yet in the counters are listed by uid first: a pod deleted by hand is
    # gone, and a Job failed by its podFailurePolicy (FailureTarget) not yet counted, when the
    # operator may already read the failure.
    uncounted = status.get("uncountedTerminatedPods") or {}
    counted = sum(int(status.get(key, 0)) for key in ("succeeded", "failed", "active"))
    attempts = max(
        len(ordered),
        counted + len(uncounted.get("succeeded") or ()) + len(uncounted.get("failed") or ()),
        # A pod's exit failed the Job: at least that pod ran.
        1 if _failed_by_a_pod(job) else 0,
    )
    start = status.get("startTime")
    failed_pods = [p for p in ordered if failure_cause(p) is not None]

    succeeded = partial(
        JobObservation,
        phase=Phase.SUCCEEDED,
        reason="Succeeded",
        message="render finished and outputs uploaded",
        job_name=name,
        attempts=attempts,
        start_time=start,
    )
    complete = _condition(job, "Complete")
    if complete:
        return succeeded(completion_time=status.get("completionTime") or complete.get("lastTransitionTime"))

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
        reason, message = cause or _job_failure(failed)
        if reason == POD_STOPPED:
            killed = bool(failed_pods) and _exit_code(failed_pods[-1]) == EXIT_KILLED
            message += stopped_on_last_attempt(job, attempts, killed=killed)
        elif attempts > 1 and cause:
            message = f"{message} (after {attempts} attempts)"
        return JobObservation(
            # Never Canceled: only the operator cancels (see the module docstring).
            phase=Phase.FAILED,
            reason=reason,
            message=message,
            job_name=name,
            attempts=attempts,
            start_time=start,
            completion_time=finished,
        )

    done = next((p for p in reversed(ordered) if ended_well(p)), None) if _one_completion(job) else None
    if done is not None:
        # The Job will be Complete (nothing fails a Job after its pod succeeded): the render is
        # Succeeded now, not when the Job controller gets to it (see ended_well).
        finished = ((_container_status(done).get("state") or {}).get("terminated") or {}).get("finishedAt")
        return succeeded(completion_time=finished)

    full = next((m for m in map(scratch_full_message, ordered) if m), None)
    if full:
        # Failed now, though the Job would go on: the reconciler deletes it (see SCRATCH_FULL).
        return JobObservation(
            phase=Phase.FAILED,
            reason=SCRATCH_FULL,
            message=full,
            job_name=name,
            attempts=attempts,
            start_time=start,
        )

    previous = ""
    if failed_pods:
        cause = failure_cause(failed_pods[-1])
        assert cause is not None
        previous = f"; attempt {len(failed_pods)} failed: {cause[0]}: {cause[1]}"
        if _disrupted(failed_pods[-1]) and cause[0] != "Disrupted":
            previous += " (stopped by the cluster: not counted against spec.retries)"
    if job.get("spec", {}).get("suspend") is True:
        # Before any pod: Kueue admits the Job by unsuspending it (and suspends it again when it
        # evicts or preempts it, deleting its pods). Checked before the pods: a pod still
        # terminating after an eviction is not a render.
        return JobObservation(
            phase=Phase.QUEUED,
            reason=SUSPENDED_FOR_KUEUE if kueue_queue(job) else JOB_SUSPENDED,
            message=suspended_message(job) + previous,
            job_name=name,
            attempts=attempts,
        )
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


_RULE_MATCHED = re.compile(r"for pod [^/\s]+/(?P<pod>\S+) failed with exit code (?P<code>\d+)")


def _job_failure(failed: Obj) -> tuple[str, str]:
    """The Job's own failure condition, when no pod is left to explain it (a deleted pod goes as
    soon as the Job controller has counted it)."""
    reason = failed.get("reason") or "Failed"
    said = _clip(failed.get("message") or "the Job failed")
    # "Container reelkube for pod NS/NAME failed with exit code 143 matching FailJob rule at
    # index 3": the Job controller's words when a rule of the podFailurePolicy failed the Job.
    matched = _RULE_MATCHED.search(said) if reason == "PodFailurePolicy" else None
    if matched and int(matched["code"]) == EXIT_CANCELED:
        return (
            POD_STOPPED,
            f"render pod {matched['pod']} was stopped (SIGTERM, exit {EXIT_CANCELED}) before it finished",
        )
    if reason == "PodFailurePolicy" and f"exit code {EXIT_KILLED}" in said:
        return "Killed", (
            f"the render pod was killed (exit code {EXIT_KILLED}, SIGKILL) and is gone, so whether it"
            " ran out of memory or was deleted and outlived its grace period cannot be read; if it"
            f" ran out of memory, raise spec.resources.memory ({said})"
        )
    return reason, said


SUSPENDED_FOR_KUEUE = "WaitingForKueue"
"""Reason of a resource whose Job waits, suspended, for Kueue to admit it (``spec.queueName``)."""
JOB_SUSPENDED = "JobSuspended"
"""Reason of a resource whose Job someone else suspended (no Kueue label)."""
SUSPENDED_REASONS = frozenset({SUSPENDED_FOR_KUEUE, JOB_SUSPENDED})
"""Reasons of a resource whose Job is suspended (``spec.suspend``): it waits, pod-less."""


def kueue_queue(job: Obj) -> str | None:
    """The Kueue LocalQueue a Job was handed to (its ``kueue.x-k8s.io/queue-name`` label)."""
    return ((job.get("metadata") or {}).get("labels") or {}).get(KUEUE_QUEUE_LABEL)


def suspended_message(job: Obj) -> str:
    """What a suspended Job waits for: Kueue's admission on its queue, or whoever suspended it."""
    name = job["metadata"]["name"]
    queue = kueue_queue(job)
    if queue:
        return (
            f"waiting for Kueue admission on queue {queue} (Job {name} is suspended until its"
            " ClusterQueue has quota for it)"
        )
    return f"Job {name} is suspended: it starts when someone sets its spec.suspend to false"


# --- chunked renders ----------------------------------------------------------------------

INDEX_FAILURES_ANNOTATION = "batch.kubernetes.io/job-index-failure-count"
"""Set by the Job controller on each pod of an Indexed Job with backoffLimitPerIndex: the
index's failures counted so far."""
INDEX_IGNORED_FAILURES_ANNOTATION = "batch.kubernetes.io/job-index-ignored-failure-count"
"""The same for failures the podFailurePolicy ignored (disruptions)."""


@dataclass(frozen=True)
class ChunkView:
    """Each window's state and attempts, as the chunk Job and its pods say."""

    count: int
    states: Mapping[int, str]
    """Index -> Pending, Running, Succeeded or Failed."""
    attempts: Mapping[int, int]
    """Index -> pods started for it (replacements of deleted or disrupted pods included)."""

    @property
    def succeeded(self) -> int:
        """Windows rendered."""
        return sum(1 for state in self.states.values() if state == "Succeeded")

    def summary(self) -> str:
        """``4/6 chunks``: the Chunks column of ``kubectl get``."""
        return f"{self.succeeded}/{self.count} chunks"


def parse_indexes(text: str | None) -> set[int]:
    """The Job status' interval list (``"0-2,5"``) as a set of indexes."""
    indexes: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        indexes.update(range(int(first), int(last or first) + 1))
    return indexes


def pod_index(pod: Obj) -> int | None:
    """The completion index of a chunk pod (its label, else its annotation)."""
    meta = pod.get("metadata") or {}
    raw = (meta.get("labels") or {}).get(CHUNK_INDEX_LABEL) or (meta.get("annotations") or {}).get(
        "batch.kubernetes.io/job-completion-index"
    )
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _pod_attempt(pod: Obj) -> int:
    """Which attempt of its index a pod is (1 for the first), from the Job controller's counts."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    counted = 0
    for name in (INDEX_FAILURES_ANNOTATION, INDEX_IGNORED_FAILURES_ANNOTATION):
        try:
            counted += int(annotations.get(name) or 0)
        except ValueError:
            continue
    return counted + 1


def chunk_view(job: Obj, pods: Sequence[Obj], count: int) -> ChunkView:
    """Per index: Succeeded/Failed from the Job's completed and failed indexes (Succeeded as soon
    as a pod of the index ended well, before the Job counts it: see :func:`ended_well`), Running
    when a pod of the index runs, else Pending; attempts from the pods' per-index failure counts."""
    status = job.get("status") or {}
    completed = parse_indexes(status.get("completedIndexes"))
    failed = parse_indexes(status.get("failedIndexes"))
    states: dict[int, str] = {}
    attempts: dict[int, int] = {}
    running: set[int] = set()
    for pod in pods:
        index = pod_index(pod)
        if index is None:
            continue
        attempts[index] = max(attempts.get(index, 0), _pod_attempt(pod))
        if ended_well(pod):
            completed.add(index)
        elif (pod.get("status") or {}).get("phase") == "Running":
            running.add(index)
    for index in range(count):
        if index in completed:
            states[index] = "Succeeded"
        elif index in failed:
            states[index] = "Failed"
        elif index in running:
            states[index] = "Running"
        else:
            states[index] = "Pending"
    return ChunkView(count=count, states=states, attempts=attempts)


def status_from_chunk_job(job: Obj, pods: Sequence[Obj], count: int) -> JobObservation:
    """The phase and cause of a chunked render while its windows render (from the Indexed Job).

    All windows rendered is not success yet (the merge follows): reason ChunksRendered. A
    failure names the window whose permanent failure (or spent retries) failed the Job, with
    that pod's own cause; the other pods, stopped because of it, are not the cause.
    """
    base = status_from_job(job, pods)
    view = chunk_view(job, pods, count)
    attempts = max(base.attempts, sum(view.attempts.values()))
    if base.phase == Phase.SUCCEEDED:
        return replace(
            base,
            phase=Phase.RUNNING,
            reason="ChunksRendered",
            message=f"all {count} chunks rendered; merging",
            attempts=attempts,
            completion_time=None,
        )
    if base.phase in (Phase.FAILED, Phase.CANCELED) and base.reason != "DeadlineExceeded":
        failed = parse_indexes((job.get("status") or {}).get("failedIndexes"))
        for pod in reversed(_sorted(pods)):
            index = pod_index(pod)
            cause = failure_cause(pod)
            if index is None or cause is None or (failed and index not in failed):
                continue
            if _exit_code(pod) == EXIT_CANCELED:
                continue  # stopped because another index failed (143 never fails an index)
            tries = view.attempts.get(index, 1)
            after = f" (after {tries} attempts)" if tries > 1 else ""
            return replace(
                base,
                phase=Phase.FAILED,
                reason=cause[0],
                message=f"chunk {index} of {count}: {cause[1]}{after}",
                attempts=attempts,
            )
        return replace(base, attempts=attempts)
    if base.phase in (Phase.FAILED, Phase.CANCELED):
        return replace(base, attempts=attempts)
    if view.states and any(state == "Running" for state in view.states.values()):
        rendering = sum(1 for state in view.states.values() if state == "Running")
        return replace(
            base,
            phase=Phase.RUNNING,
            reason="Running",
            message=f"{rendering} of {count} chunks rendering, {view.succeeded} done",
            attempts=attempts,
        )
    return replace(base, attempts=attempts)
