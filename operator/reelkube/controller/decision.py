"""The reconcile decision: what to do with a resource, given what was observed. Pure.

:func:`decide` holds every branch of reconciling a RenderJob or TTSJob; the
:class:`~reelkube.controller.reconcile.Reconciler` only gathers an :class:`Observed` (reads from
the API server) and carries out the :data:`Action` that comes back (status patches, creates).
Nothing here does I/O, so every branch is a row of a table test (``tests/controller``).

Two triggers share the decision:

- ``reconcile`` (created, resumed, Job deleted, admission): may start a Job;
- ``sync`` (a Job or pod event): only copies what the Job says, and never creates.

``spec.cancel`` wins over everything but deletion and a terminal phase, on both triggers.

A chunked render (``spec.output.chunks``) has two Jobs one after the other: the Indexed Job
rendering the windows, then the merge Job. When every index has succeeded the decision is
:class:`StartMerge`, on either trigger (the chunk Job's completion arrives as a Job event, and
the merge Job's deterministic name makes a repeated create a 409); the merge Job's outcome is the
resource's.

A resource with ``spec.queueName`` is Kueue's to admit: it starts at once, its Job suspended
with Kueue's queue label, and it stays Queued (reason WaitingForKueue) until Kueue unsuspends it.

A start under a concurrency limit is decided in two rounds: the first says :class:`CountRunning`,
and the reconciler decides again with the running count and the resource's place among every
waiting one (:func:`reelkube.controller.admission.place`: priority, then age), both taken under
its admission lock, so count-then-create stays atomic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from reelkube.api.kinds import Resource
from reelkube.api.status import TERMINAL_PHASES, Phase, ResourceStatus, Step, status_unwritten
from reelkube.controller.admission import Placement
from reelkube.controller.job_observation import (
    ChunkView,
    JobObservation,
    chunk_view,
    status_from_chunk_job,
    status_from_job,
)

Obj = Mapping[str, Any]
Trigger = Literal["reconcile", "sync"]

INVALID_MESSAGE_LIMIT = 1000
"""Characters of a validation error kept in ``status.message``."""


@dataclass(frozen=True)
class Observed:
    """Everything the decision looks at, as read from the API server."""

    body: Obj | None
    """The resource as the API server returned it; None when it is gone."""
    trigger: Trigger = "reconcile"
    resumed: bool = False
    """The operator found the resource at its start (kopf's resume)."""
    status: ResourceStatus = field(default_factory=ResourceStatus)
    resource: Resource | None = None
    """The body parsed into its kind's model (None when it does not validate)."""
    parse_error: str | None = None
    """Why the body does not validate."""
    job: Obj | None = None
    """The resource's Job, when it was looked up and exists."""
    pods: Sequence[Obj] = ()
    """The Job's pods."""
    limit: int = 0
    """Most Jobs of the resource's queue running at once cluster-wide; 0 means no limit."""
    namespace_limit: int = 0
    """Most Jobs of the resource's queue running at once in its namespace; 0 means no limit."""
    running: int | None = None
    """Jobs running now, counted under the admission lock; None when not counted."""
    now: datetime | None = None
    """When it was observed (for the stall check); None: no stall check."""
    stall_seconds: int = 0
    """A running pod whose progress stands still this long is stuck; 0 means never."""
    placement: Placement | None = None
    """Where the admission selection puts the resource among every waiting one (computed with
    ``running``); None when it was not computed: then only ``running`` and ``limit`` decide."""
    chunks: int = 1
    """Windows the render is split into; 1: a single-pod render."""
    merge_job: Obj | None = None
    """A chunked render's merge Job, when it exists."""
    merge_pods: Sequence[Obj] = ()
    """The merge Job's pods."""

    @property
    def chunked(self) -> bool:
        """Whether the render runs as a chunk Job and a merge Job."""
        return self.chunks > 1

    @property
    def deleting(self) -> bool:
        return self.body is not None and bool(self.body.get("metadata", {}).get("deletionTimestamp"))

    @property
    def cancel_requested(self) -> bool:
        """``spec.cancel`` is true (read from the body, so an invalid resource can be canceled too)."""
        return self.body is not None and (self.body.get("spec") or {}).get("cancel") is True

    @property
    def fresh(self) -> bool:
        """Never started by anyone: no status written (the CRD's default aside), and not found at
        the operator's start."""
        return self.body is not None and status_unwritten(self.body.get("status")) and not self.resumed


def needs_job_lookup(observed: Observed) -> bool:
    """Whether the reconciler must read the Job before deciding.

    A fresh resource skips the lookup and goes straight to the creates (a 409 on the Job sends
    it to the lookup after all), which saves a round trip on the usual path."""
    if observed.body is None or observed.deleting or observed.status.phase in TERMINAL_PHASES:
        return False
    if observed.resource is None:
        return False
    return observed.trigger == "sync" or not observed.fresh


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gone:
    """The resource is gone or being deleted: nothing to do (deletion cascades to the Job)."""


@dataclass(frozen=True)
class Nothing:
    """Leave the status as it is."""

    phase: Phase | None


@dataclass(frozen=True)
class FailInvalid:
    """The resource does not validate: Failed with reason InvalidSpec, and stop retrying."""

    message: str


@dataclass(frozen=True)
class Observe:
    """Copy what the Job and its pods say into the status."""

    observation: JobObservation
    chunks: ChunkView | None = None
    """A chunked render's windows (state and attempts per index)."""


@dataclass(frozen=True)
class MarkJobDeleted:
    """The Job the status names is gone while the resource is not finished: someone deleted it.

    That is a cancellation, not a reason to render again."""

    job_name: str


@dataclass(frozen=True)
class FailStalled:
    """The pod runs but its progress has stood still for ``seconds`` (the stall limit passed):
    delete the Job, then Failed with reason NoProgress."""

    job_name: str
    seconds: int


@dataclass(frozen=True)
class KeepPodOutcome:
    """The Job the status names is gone, but its pod had reported success in the status (step
    done, outputs listed): the Job finished and was removed (``ttlSecondsAfterFinished``) while
    no operator watched. Succeeded, not canceled: the outputs exist."""

    job_name: str


@dataclass(frozen=True)
class Cancel:
    """``spec.cancel`` is set on an unfinished resource: delete its Job (and so its pods), if
    any, then Canceled with reason CanceledByUser, without the outputs a partial run listed."""

    job_name: str | None


@dataclass(frozen=True)
class CountRunning:
    """A start under a concurrency limit: count the running Jobs under the admission lock, then
    decide again with the count."""


@dataclass(frozen=True)
class Queue:
    """Hold the resource back: a concurrency limit is reached."""

    running: int
    limit: int
    position: int = 1
    """Place in the queue, 1 = next."""
    namespace: str | None = None
    """The namespace whose limit holds it back; None: the cluster-wide limit."""


@dataclass(frozen=True)
class Start:
    """Create the Job's objects, then the Job."""


@dataclass(frozen=True)
class StartMerge:
    """Every window of a chunked render succeeded: create the merge Job."""

    chunks: ChunkView


Action = (
    Gone
    | Nothing
    | FailInvalid
    | Observe
    | FailStalled
    | MarkJobDeleted
    | KeepPodOutcome
    | Cancel
    | CountRunning
    | Queue
    | Start
    | StartMerge
)


def _parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _running_since(pods: Sequence[Obj]) -> datetime | None:
    """When the newest pod's container started running (a retry starts its clock afresh)."""
    latest: datetime | None = None
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            started = _parse_time(((container.get("state") or {}).get("running") or {}).get("startedAt"))
            if started is not None and (latest is None or started > latest):
                latest = started
    return latest


def _standing_still(observed: Observed) -> int | None:
    """Seconds the running pod's progress has stood still, when past the stall limit.

    Measured from the later of the pod's last progress report (``status.lastProgressTime``) and
    the start of its newest container; a status without ``lastProgressTime`` (a pod that does not
    report it) is never judged."""
    if not observed.stall_seconds or observed.now is None:
        return None
    reported = _parse_time(observed.status.lastProgressTime)
    if reported is None:
        return None
    started = _running_since(observed.pods)
    since = max(reported, started) if started is not None else reported
    still = int((observed.now - since).total_seconds())
    return still if still >= observed.stall_seconds else None


def decide(observed: Observed) -> Action:
    """The one thing to do next with a resource, from what was observed."""
    if observed.body is None or observed.deleting:
        return Gone()
    status = observed.status
    if status.phase in TERMINAL_PHASES:
        return Nothing(status.phase)  # a terminal phase is final
    if observed.cancel_requested:
        # On either trigger: a cancel deletes, it never creates.
        job_name = observed.job["metadata"]["name"] if observed.job is not None else status.jobName
        return Cancel(job_name)
    if observed.resource is None:
        if observed.trigger == "sync":
            return Nothing(status.phase)  # the reconcile trigger reports an invalid resource
        return FailInvalid((observed.parse_error or "invalid resource")[:INVALID_MESSAGE_LIMIT])
    if observed.chunked and (observed.job is not None or observed.merge_job is not None):
        return _decide_chunked(observed)
    if observed.job is not None:
        observation = status_from_job(observed.job, observed.pods)
        still = _standing_still(observed) if observation.phase == Phase.RUNNING else None
        if still is not None:
            return FailStalled(observation.job_name, still)
        return Observe(observation)
    if observed.trigger == "sync":
        return Nothing(status.phase)  # only a reconcile creates, or settles a vanished Job
    if status.jobName:
        if status.step == Step.DONE and status.outputs:
            return KeepPodOutcome(status.jobName)
        return MarkJobDeleted(status.jobName)
    if observed.resource.spec.queueName:
        # Kueue decides when it runs (the Job is created suspended): Reelkube's own limits and
        # queue step aside, and the admission selection neither counts nor holds it.
        return Start()
    if not observed.limit and not observed.namespace_limit:
        return Start()
    if observed.running is None:
        return CountRunning()
    placement = observed.placement
    if placement is None:
        if observed.limit and observed.running >= observed.limit:
            return Queue(running=observed.running, limit=observed.limit)
        return Start()
    if placement.admitted:
        return Start()
    namespace = placement.namespace if placement.scope == "namespace" else None
    return Queue(placement.running, placement.limit, placement.position, namespace)


def _decide_chunked(observed: Observed) -> Action:
    """A chunked render with its chunk Job or merge Job in place: observe the one that runs,
    or start the merge once every window succeeded."""
    view = chunk_view(observed.job, observed.pods, observed.chunks) if observed.job is not None else None
    if observed.merge_job is not None:
        merge = status_from_job(observed.merge_job, observed.merge_pods)
        earlier = sum(view.attempts.values()) if view is not None else (observed.status.attempts or 0)
        observation = replace(
            merge,
            attempts=earlier + merge.attempts,
            message=merge.message.replace("is rendering", f"is merging {observed.chunks} chunks"),
            # The chunk Job is the one to delete (cancel, stall): the merge Job is its dependent.
            job_name=observed.job["metadata"]["name"] if observed.job is not None else merge.job_name,
        )
    else:
        assert observed.job is not None and view is not None
        if view.succeeded == observed.chunks:
            return StartMerge(view)
        observation = status_from_chunk_job(observed.job, observed.pods, observed.chunks)
    started = observed.merge_job is not None or observed.status.phase == Phase.RUNNING
    if observation.phase == Phase.QUEUED and started:
        # Once a window has rendered, the render runs until it ends: a window waiting for its
        # retry's pod, or the merge waiting for its own, is not a return to the queue (and no
        # second "started" webhook).
        observation = replace(observation, phase=Phase.RUNNING)
    if observation.phase == Phase.RUNNING:
        pods = observed.merge_pods if observed.merge_job is not None else observed.pods
        still = _standing_still(replace(observed, pods=pods))
        if still is not None:
            return FailStalled(observation.job_name, still)
    return Observe(observation, chunks=view)
