"""The Reconciler: gathers what a resource's reconcile needs, asks :func:`decide`, and carries
out the action (after Kueue's generic job reconciler). Every branch lives in
:mod:`reelkube.controller.decision`; this module only reads, creates and patches.

``reconcile`` makes sure a resource has its Job (creating the ConfigMap, ServiceAccount, Role,
RoleBinding and Job by deterministic name, a 409 counting as success), holds it back while the
concurrency limit is reached, and copies what the Job and its pods say into the status.
The four children are independent of each other and created concurrently; the Job comes only
after all of them exist (its pod needs the ServiceAccount and the ConfigMap). A new resource
goes straight to the creates (a 409 on the Job sends it to the lookup), so the usual path is
four round trips: read, children, Job, status.
``sync`` is the same status copy, triggered by Job and pod events; it never creates.

Safe to call any number of times, from any trigger, after any restart: the Job has one
deterministic name, so a second create is a 409 (then the existing Job is read and observed),
never a second Job.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from reelkube.api.common import WebhookSpec
from reelkube.api.kinds import Resource, ResourceKind, kind_named
from reelkube.api.status import TERMINAL_PHASES, Phase, ResourceStatus
from reelkube.controller.admission import Placement, Queues, queue_message, queue_reason
from reelkube.controller.chunk_status import chunk_progress_due, chunk_progress_update, chunk_update
from reelkube.controller.decision import (
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
from reelkube.controller.events import (
    GPU_FALLBACK,
    RETRY,
    VOICEOVER_UPLOADED,
    TransitionEvents,
    retry_message,
)
from reelkube.controller.job_manifests import (
    CHILD_WAVES,
    build_merge_job,
    build_render_job,
    chunk_count_for,
    first_job_name,
    merge_job_name,
)
from reelkube.controller.job_observation import SCRATCH_FULL, failure_cause
from reelkube.controller.kube import ClusterClient
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.notify import WebhookNotifier, pending_announcements, redelivery_value
from reelkube.controller.settings import OperatorSettings
from reelkube.controller.status_updates import FALLBACK_MARK, phase_update, update_from_observation
from reelkube.storage.tenancy import StorageForbidden
from reelkube.webhooks.history import deliveries_of
from reelkube.webhooks.milestones import VOICEOVER_OUTPUTS, Announcement, due_events

log = logging.getLogger(__name__)

CHILD_CREATE_WORKERS = 16
"""Threads creating children concurrently (four per resource being started)."""


class PermanentFailure(Exception):
    """The resource cannot be reconciled until someone changes it (the handlers stop retrying)."""


def _age_seconds(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - created).total_seconds())


class Reconciler:
    """Holds the API client, settings and metrics that every reconcile shares."""

    def __init__(
        self,
        client: ClusterClient,
        settings: OperatorSettings,
        metrics: OperatorMetrics,
        notifier: WebhookNotifier | None = None,
        events: TransitionEvents | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.notifier = notifier
        self.events = events
        self._admission = threading.Lock()
        self.queues = Queues(client, settings)
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        self._creates = ThreadPoolExecutor(CHILD_CREATE_WORKERS, thread_name_prefix="create")
        if notifier is not None:
            notifier.serialize = self._locked
        # uids whose GPU fallback was told: the pod's progress writes would repeat it every second.
        self._told_fallback: set[str] = set()
        self._chunk_progress_written: dict[str, float] = {}
        # uids whose Pending webhook events (left by an earlier operator process) this process
        # has sent again: once, and before any event it announces itself.
        self._resumed_webhooks: set[str] = set()
        self._told_voiceover: set[str] = set()

    def close(self) -> None:
        """Stop the child-creating threads (at operator shutdown) and send pending Events."""
        self._creates.shutdown(wait=False, cancel_futures=True)
        if self.events is not None:
            self.events.close()

    @contextmanager
    def _locked(self, kind: str, namespace: str, name: str) -> Iterator[None]:
        # Resource handlers and Job/pod event handlers run on different threads; one lock per
        # resource keeps their read-compute-patch steps from interleaving (no doubled webhooks).
        with self._locks_guard:
            lock = self._locks.get((kind, namespace, name))
            if lock is None:
                lock = threading.Lock()
                self._locks[(kind, namespace, name)] = lock
        with lock:
            yield

    # --- entry points -------------------------------------------------------------------

    def reconcile(
        self, kind: str, namespace: str, name: str, *, trigger: str, queued: Placement | None = None
    ) -> Phase | None:
        """Bring one resource forward; returns its phase afterwards (None if it is gone).

        ``queued``: the place the admission round gave a waiting resource that may not start, to
        be written (a position is never a reason to start: a start is placed again under the
        admission lock)."""
        resource_kind = kind_named(kind)
        started = time.monotonic()
        try:
            with self._locked(kind, namespace, name):
                observed = self._gather(
                    resource_kind, namespace, name, "reconcile", resumed=trigger == "resume"
                )
                if queued is not None and not queued.admitted and observed.body is not None:
                    observed = replace(observed, running=queued.running, placement=queued)
                action = decide(observed)
                if isinstance(action, Gone):
                    self.metrics.phases.observe(kind, namespace, name, None)
                    return None
                self.metrics.phases.observe(kind, namespace, name, observed.status.phase)
                if observed.resumed:
                    self._resend_pending_webhook(resource_kind, observed)
                return self._act(resource_kind, observed, action)
        except Exception:
            self.metrics.reconcile_errors.labels(kind).inc()
            raise
        finally:
            self.metrics.reconcile_seconds.labels(kind, trigger).observe(time.monotonic() - started)

    def sync(self, kind: str, namespace: str, name: str, *, trigger: str) -> Phase | None:
        """Copy the Job's state into the status, creating nothing (for Job and pod events)."""
        resource_kind = kind_named(kind)
        started = time.monotonic()
        try:
            with self._locked(kind, namespace, name):
                observed = self._gather(resource_kind, namespace, name, "sync")
                return self._act(resource_kind, observed, decide(observed))
        finally:
            self.metrics.reconcile_seconds.labels(kind, trigger).observe(time.monotonic() - started)

    # --- observing ----------------------------------------------------------------------

    def _gather(
        self, kind: ResourceKind, namespace: str, name: str, trigger: Trigger, *, resumed: bool = False
    ) -> Observed:
        """Read what :func:`decide` needs: the resource, and its Job and pods when they matter."""
        body = self.client.get_resource(kind, namespace, name)
        if body is None:
            return Observed(body=None, trigger=trigger, resumed=resumed)
        observed = Observed(
            body=body,
            trigger=trigger,
            resumed=resumed,
            status=ResourceStatus.model_validate(body.get("status") or {}),
            limit=self.settings.cluster_limit(kind.kind),
            namespace_limit=self.queues.limits().for_namespace(namespace),
            now=datetime.now(UTC),
            stall_seconds=self.settings.stall_seconds,
        )
        if observed.deleting or observed.status.phase in TERMINAL_PHASES:
            return observed
        try:
            resource = kind.parse(body)
            # A sync only reads: a resource without a uid is left to the reconcile to report.
            chunks = observed.status.chunkCount or chunk_count_for(resource, self.settings)
            job_name = first_job_name(resource, chunks) if trigger == "sync" else None
        except ValidationError as exc:
            return replace(observed, parse_error=str(exc))
        except ValueError as exc:
            if trigger != "sync":
                raise
            return replace(observed, parse_error=str(exc))
        observed = replace(observed, resource=resource, chunks=chunks)
        if not needs_job_lookup(observed):
            return observed
        return self._with_job(observed, job_name or first_job_name(resource, chunks))

    def _with_job(self, observed: Observed, job_name: str) -> Observed:
        """``observed`` with the Job named ``job_name`` and its pods, when the Job exists."""
        assert observed.body is not None
        namespace = observed.body["metadata"]["namespace"]
        job = self.client.get_job(namespace, job_name)
        if job is None:
            return observed
        observed = replace(
            observed, job=job, pods=self.client.list_job_pods(namespace, job["metadata"]["name"])
        )
        if observed.chunked and observed.resource is not None:
            # The merge Job follows the chunk Job (and is garbage with it).
            merge_name = merge_job_name(observed.resource)
            merge = self.client.get_job(namespace, merge_name)
            if merge is not None:
                merge_pods = self.client.list_job_pods(namespace, merge_name)
                observed = replace(observed, merge_job=merge, merge_pods=merge_pods)
        return observed

    # --- acting -------------------------------------------------------------------------

    def _act(self, kind: ResourceKind, observed: Observed, action: Action) -> Phase | None:
        """Carry out what :func:`decide` chose; returns the resource's phase afterwards."""
        if isinstance(action, Gone) or observed.body is None:
            return None
        meta = observed.body["metadata"]
        if isinstance(action, Nothing):
            return action.phase
        if isinstance(action, FailInvalid):
            self._set_phase(kind, observed, Phase.FAILED, "InvalidSpec", action.message)
            raise PermanentFailure(
                f"{kind.kind} {meta['namespace']}/{meta['name']} does not validate: {observed.parse_error}"
            )
        if isinstance(action, Observe):
            generation = meta.get("generation")
            patch = update_from_observation(observed.status, action.observation, generation=generation)
            if action.chunks is not None:
                patch = {**patch, **chunk_update(observed.status, action.chunks)}
            if action.chunks is None:  # a chunked render's attempts are summed over its windows
                self._tell_retry(observed, action.observation.attempts)
            phase = self._write(kind, observed.body, observed.status, patch)
            if action.observation.reason == SCRATCH_FULL and observed.job is not None:
                # Failed is written; the Job would retry the eviction as a disruption, forever.
                self.client.delete_job(meta["namespace"], action.observation.job_name)
            return phase
        if isinstance(action, MarkJobDeleted):
            message = f"Job {action.job_name} was deleted before it finished"
            return self._set_phase(kind, observed, Phase.CANCELED, "JobDeleted", message)
        if isinstance(action, FailStalled):
            deleted = self.client.delete_job(meta["namespace"], action.job_name)
            log.info(
                "event=stalled namespace=%s name=%s job=%s seconds=%d deleted=%s",
                meta["namespace"],
                meta["name"],
                action.job_name,
                action.seconds,
                deleted,
            )
            status = observed.status
            at = f"{status.progress}%" if status.progress is not None else "no progress"
            step = f", step {status.step.value}" if status.step is not None else ""
            message = (
                f"no progress for {action.seconds}s (at {at}{step}); Job {action.job_name} deleted."
                f" The limit is the chart's jobs.stallSeconds ({self.settings.stall_seconds}s)"
            )
            return self._set_phase(kind, observed, Phase.FAILED, "NoProgress", message)
        if isinstance(action, KeepPodOutcome):
            message = (
                f"Job {action.job_name} finished and was removed while the operator was not watching;"
                " its pod had written the outputs"
            )
            return self._set_phase(kind, observed, Phase.SUCCEEDED, "JobCompletedWhileOperatorDown", message)
        if isinstance(action, Cancel):
            return self._cancel(kind, observed, action)
        if isinstance(action, StartMerge):
            return self._start_merge(kind, observed, action)
        if isinstance(action, Queue):
            log.info(
                "event=queued namespace=%s name=%s position=%d running=%d limit=%d scope=%s",
                meta["namespace"],
                meta["name"],
                action.position,
                action.running,
                action.limit,
                "namespace" if action.namespace is not None else "cluster",
            )
            message = queue_message(
                kind.kind, action.position, action.running, action.limit, action.namespace
            )
            reason = queue_reason(action.namespace)
            return self._set_phase(
                kind, observed, Phase.QUEUED, reason, message, queue_position=action.position
            )
        if isinstance(action, CountRunning):
            # Count-then-create is atomic: place and decide again under the admission lock,
            # and create there.
            with self._admission:
                observed = self._placed(kind, observed)
                action = decide(observed)
                if not isinstance(action, Start):
                    return self._act(kind, observed, action)
                job, created = self._create(kind, observed)
            return self._after_create(kind, observed, job, created)
        assert isinstance(action, Start), action
        job, created = self._create(kind, observed)
        return self._after_create(kind, observed, job, created)

    def _tell_retry(self, observed: Observed, attempts: int) -> None:
        """A ``Retry`` Event when the Job has started another pod since the status was written,
        with the cause the previous pod ended with (told once per attempt: its name is derived
        from the attempt)."""
        if self.events is None or observed.body is None:
            return
        # Pods in the order the Job made them: attempt n ended with pod n's cause.
        pods = sorted(observed.pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
        for attempt in range(max((observed.status.attempts or 0) + 1, 2), attempts + 1):
            ended = pods[attempt - 2] if len(pods) >= attempt - 1 else None
            cause = failure_cause(ended) if ended is not None else None
            message = retry_message(attempt, cause)
            self.events.notice(observed.body, RETRY, message, warning=True, key=f"retry-{attempt}")

    def _cancel(self, kind: ResourceKind, observed: Observed, action: Cancel) -> Phase | None:
        """Delete the Job first, then write Canceled: a failed delete leaves the status as it was,
        so the handler's retry cancels again instead of finding a terminal phase."""
        assert observed.body is not None
        meta = observed.body["metadata"]
        deleted = False
        if action.job_name:
            deleted = self.client.delete_job(meta["namespace"], action.job_name)
        log.info(
            "event=cancel namespace=%s name=%s job=%s deleted=%s",
            meta["namespace"],
            meta["name"],
            action.job_name,
            deleted,
        )
        if deleted:
            message = f"canceled by spec.cancel: Job {action.job_name} and its pods deleted"
        elif action.job_name:
            message = f"canceled by spec.cancel (Job {action.job_name} was already gone)"
        else:
            message = "canceled by spec.cancel before it started"
        return self._set_phase(kind, observed, Phase.CANCELED, "CanceledByUser", message, drop_outputs=True)

    def _start_merge(self, kind: ResourceKind, observed: Observed, action: StartMerge) -> Phase | None:
        """Create the merge Job of a chunked render whose windows all succeeded (a 409 means it
        exists already), and say so in the status."""
        assert observed.body is not None and observed.resource is not None and observed.job is not None
        meta = observed.body["metadata"]
        merge = build_merge_job(observed.resource, self.settings, observed.chunks, observed.job)
        created = self.client.create(merge)
        log.info(
            "event=merge_created namespace=%s name=%s job=%s created=%s",
            meta["namespace"],
            meta["name"],
            merge["metadata"]["name"],
            created,
        )
        message = f"all {observed.chunks} chunks rendered; Job {merge['metadata']['name']} merges them"
        patch = phase_update(
            observed.status,
            phase=Phase.RUNNING,
            reason="Merging",
            message=message,
            generation=meta.get("generation"),
            job_name=observed.job["metadata"]["name"],
            attempts=max(observed.status.attempts or 0, sum(action.chunks.attempts.values())),
        )
        patch.update(chunk_update(observed.status, action.chunks))
        return self._write(kind, observed.body, observed.status, patch)

    def _placed(self, kind: ResourceKind, observed: Observed) -> Observed:
        """``observed`` with the running count of its queue and its place among the waiting."""
        assert observed.body is not None
        meta = observed.body["metadata"]
        key = (kind.kind, meta["namespace"], meta["name"])
        placed = self.queues.place_waiting(also=(kind, observed.body))
        placement = next(p for item, p in placed if item.key == key)
        return replace(observed, running=placement.running, placement=placement)

    def _set_phase(
        self, kind: ResourceKind, observed: Observed, phase: Phase, reason: str, message: str, **extra: Any
    ) -> Phase | None:
        """Write ``phase`` with its cause (``extra``: the other :func:`phase_update` fields)."""
        assert observed.body is not None
        generation = observed.body["metadata"].get("generation")
        patch = phase_update(
            observed.status, phase=phase, reason=reason, message=message, generation=generation, **extra
        )
        return self._write(kind, observed.body, observed.status, patch)

    def _create(self, kind: ResourceKind, observed: Observed) -> tuple[dict[str, Any], bool]:
        """Create the Job's objects, then the Job; the Job and whether it was new (not a 409)."""
        assert observed.resource is not None
        try:
            job = build_render_job(observed.resource, self.settings)
        except StorageForbidden as exc:
            # The chart's storage rules refuse the spec: no object is created, and no retry helps.
            self._set_phase(kind, observed, Phase.FAILED, exc.reason, exc.message)
            meta = observed.resource.metadata
            raise PermanentFailure(f"{kind.kind} {meta.namespace}/{meta.name}: {exc.message}") from exc
        try:
            self._create_children(observed.resource)
            return job, self.client.create(job)
        except ApiException as exc:
            # Forbidden or rejected: nothing will change by itself; say so, then let kopf
            # retry with backoff (someone may fix RBAC or a quota meanwhile).
            if exc.status in (403, 422):
                message = f"cannot create the Job's objects: {exc.status} {exc.reason}"
                self._set_phase(kind, observed, Phase.PENDING, "CreateFailed", message, stalled=True)
            raise

    def _after_create(
        self, kind: ResourceKind, observed: Observed, job: dict[str, Any], created: bool
    ) -> Phase | None:
        """Observe a Job that existed already (409), else record the new one as Queued."""
        assert observed.body is not None
        meta = observed.body["metadata"]
        job_name = job["metadata"]["name"]
        if not created:
            # It existed already (a retry, or a crash after the create): observe that Job.
            found = self._with_job(observed, job_name)
            if found.job is not None:
                return self._act(kind, found, decide(found))
        if created:
            self.metrics.jobs_created.labels(kind.kind).inc()
            age = _age_seconds(meta.get("creationTimestamp"))
            if age is not None:
                self.metrics.apply_to_job_seconds.labels(kind.kind).observe(age)
        log.info(
            "event=job_created namespace=%s name=%s job=%s created=%s",
            meta["namespace"],
            meta["name"],
            job_name,
            created,
        )
        message = f"Job {job_name} created, waiting for its pod to run"
        return self._set_phase(
            kind, observed, Phase.QUEUED, "JobCreated", message, job_name=job_name, attempts=0
        )

    def _create_children(self, resource: Resource) -> None:
        """Create the ConfigMap, ServiceAccount and Role concurrently, then the RoleBinding;
        return when all are done, raising the first error (409s are success inside ``create``)."""
        for wave in CHILD_WAVES:
            manifests = [builder(resource, self.settings) for builder in wave]
            futures = [self._creates.submit(self.client.create, manifest) for manifest in manifests]
            errors = [f.exception() for f in futures]  # waits for every create, failed or not
            for error in errors:
                if error is not None:
                    raise error

    def _write(
        self, kind: ResourceKind, body: Mapping[str, Any], status: ResourceStatus, patch: dict[str, Any]
    ) -> Phase | None:
        """Patch the status if anything changed; announce a phase change by webhook and by a
        Kubernetes Event."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if not patch:
            return status.phase
        new_phase = Phase(patch["phase"]) if "phase" in patch else status.phase
        announced = self._due_webhooks(kind, body, status.phase, patch)
        if announced:
            patch["webhook"] = pending_announcements(body, announced)
        self.client.patch_status(kind, namespace, name, patch)
        if new_phase != status.phase and new_phase is not None:
            self.metrics.transitions.labels(kind.kind, new_phase.value).inc()
            if new_phase == Phase.SUCCEEDED:
                self._tell_voiceover(kind.kind, body, {**(body.get("status") or {}), **patch})
            if self.events is not None:
                self.events.record(body, new_phase, patch.get("reason"), patch.get("message"))
            log.info(
                "event=phase namespace=%s name=%s from=%s to=%s reason=%s message=%r",
                namespace,
                name,
                status.phase,
                new_phase.value,
                patch.get("reason"),
                patch.get("message"),
            )
        self.metrics.phases.observe(kind.kind, namespace, name, new_phase)
        if announced and self.notifier is not None:
            # Events a previous process announced go first, or a failover could send "started"
            # before the "queued" it left Pending (found by tests/chaos/run_chaos.py).
            self._resend_pending_once(kind, body)
            merged = {**(body.get("status") or {}), **patch}
            for announcement in announced:
                self.notifier.submit(kind, {**body, "status": merged}, announcement.event, announcement.id)
        return new_phase

    def _due_webhooks(
        self, kind: ResourceKind, body: Mapping[str, Any], old_phase: Phase | None, patch: Mapping[str, Any]
    ) -> list[Announcement]:
        """The webhook events the status makes due once ``patch`` is applied (none without a
        webhook or a notifier)."""
        webhook = (body.get("spec") or {}).get("webhook")
        if webhook is None or self.notifier is None:
            return []
        current = dict(body.get("status") or {})
        after = {k: v for k, v in {**current, **patch}.items() if v is not None and k != "webhook"}
        return due_events(
            kind=kind.kind,
            uid=body["metadata"].get("uid", ""),
            webhook=WebhookSpec.model_validate(webhook),
            old_phase=old_phase,
            status=ResourceStatus.model_validate(after),
            recorded={r.id for r in deliveries_of(current)},
        )

    def watch_live(self, kind: str, namespace: str, name: str, seen: Mapping[str, Any]) -> None:
        """A change of a resource as a watch saw it (``seen``), most often the pod's progress:
        send the webhook events it makes due (progress milestones, the voice-over), act on a
        ``reelkube.io/redeliver`` annotation, and tell a GPU encoder fallback by an Event.
        Decided first on ``seen`` without any request; only when something is due is the
        resource read again and the work done under its lock."""
        resource_kind = kind_named(kind)
        status = ResourceStatus.model_validate(seen.get("status") or {})
        uid = seen.get("metadata", {}).get("uid", "")
        fallback = status.encoder and FALLBACK_MARK in status.encoder
        if self.events is not None and fallback and uid not in self._told_fallback:
            self._told_fallback.add(uid)
            message = f"no working GPU encoder on the node: encoding on the CPU ({status.encoder})"
            self.events.notice(seen, GPU_FALLBACK, message, warning=True, key="gpu-encoder-fallback")
        chunk_progress = chunk_progress_update(status)
        now = time.monotonic()
        if chunk_progress and chunk_progress_due(chunk_progress, self._chunk_progress_written.get(uid), now):
            # A chunked render's one progress, summed from its chunk pods' entries (chunk_status).
            self.client.patch_status(resource_kind, namespace, name, chunk_progress)
            self._chunk_progress_written[uid] = now
        elif status.phase in TERMINAL_PHASES:
            self._chunk_progress_written.pop(uid, None)
        if status.phase == Phase.RUNNING:
            self._tell_voiceover(kind, seen, seen.get("status") or {})
        if self.notifier is None:
            return
        # A redelivery asked of a resource without a webhook is still answered (refused, by Event).
        if redelivery_value(seen) is None and not self._due_webhooks(resource_kind, seen, status.phase, {}):
            return
        with self._locked(kind, namespace, name):
            body = self.client.get_resource(resource_kind, namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return
            self.notifier.redeliver_requested(resource_kind, dict(body))
            body = self.client.get_resource(resource_kind, namespace, name) or body
            current = ResourceStatus.model_validate(body.get("status") or {})
            announced = self._due_webhooks(resource_kind, body, current.phase, {})
            if not announced:
                return
            patch = {"webhook": pending_announcements(body, announced)}
            self.client.patch_status(resource_kind, namespace, name, patch)
            merged = {**(body.get("status") or {}), **patch}
            for announcement in announced:
                self.notifier.submit(
                    resource_kind, {**body, "status": merged}, announcement.event, announcement.id
                )

    def _tell_voiceover(self, kind: str, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        """A ``VoiceoverUploaded`` Event once the status lists the kind's voice-over output
        (before the Succeeded Event when both come in one write)."""
        output = VOICEOVER_OUTPUTS.get(kind)
        uid = body.get("metadata", {}).get("uid", "")
        listed = (status.get("outputs") or {}).get(output) if output else None
        if self.events is None or not listed or uid in self._told_voiceover:
            return
        self._told_voiceover.add(uid)
        where = listed.get("uri", "storage") if isinstance(listed, Mapping) else "storage"
        self.events.notice(
            body, VOICEOVER_UPLOADED, f"the voice-over is in {where}", key="voiceover-uploaded"
        )

    def _resend_pending_webhook(self, kind: ResourceKind, observed: Observed) -> None:
        # A Pending delivery found at resume time was lost with a previous operator process.
        # Every event the status holds as Pending goes out again, oldest first, with its id.
        assert observed.body is not None
        self._resend_pending_once(kind, observed.body)

    def _resend_pending_once(self, kind: ResourceKind, body: Mapping[str, Any]) -> None:
        """Send again the events ``body``'s status holds as Pending, the first time this process
        touches the resource (at resume, or at its first announcement, whichever comes first)."""
        uid = body.get("metadata", {}).get("uid", "")
        if self.notifier is None or uid in self._resumed_webhooks:
            return
        self._resumed_webhooks.add(uid)
        self.notifier.resume(kind, dict(body))
