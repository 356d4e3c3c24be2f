"""One reconcile path for every kind (after Kueue's generic job reconciler).

``reconcile`` makes sure a resource has its Job (creating the ConfigMap, ServiceAccount, Role,
RoleBinding and Job by deterministic name, a 409 counting as success), holds it back while the
concurrency limit is reached, and copies what the Job and its pods say into the status.
The four children are independent of each other and created concurrently; the Job comes only
after all of them exist (its pod needs the ServiceAccount and the ConfigMap). A new resource
goes straight to the creates (a 409 on the Job sends it to the lookup), so the usual path is
four round trips: read, children, Job, status.
``sync`` is the same status copy, triggered by Job and pod events.

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
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from reelkube.api.common import WebhookSpec
from reelkube.api.kinds import KINDS, ResourceKind, kind_named
from reelkube.api.status import TERMINAL_PHASES, JobStatus, Phase
from reelkube.controller.builders import CHILD_WAVES, build_job, child_name
from reelkube.controller.jobstatus import phase_update, status_from_job, update_from_patch, webhook_event
from reelkube.controller.kube import ClusterClient
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.notify import WebhookNotifier, pending_delivery
from reelkube.controller.settings import OperatorSettings

log = logging.getLogger(__name__)

CHILD_CREATE_WORKERS = 16
"""Threads creating children concurrently (four per resource being started)."""


class PermanentFailure(Exception):
    """The resource cannot be reconciled until someone changes it (the handlers stop retrying)."""


def _job_finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in job.get("status", {}).get("conditions") or []
    )


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
    ) -> None:
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.notifier = notifier
        self._admission = threading.Lock()
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        self._creates = ThreadPoolExecutor(CHILD_CREATE_WORKERS, thread_name_prefix="create")

    def close(self) -> None:
        """Stop the child-creating threads (at operator shutdown)."""
        self._creates.shutdown(wait=False, cancel_futures=True)

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

    def reconcile(self, kind: str, namespace: str, name: str, *, trigger: str) -> Phase | None:
        """Bring one resource forward; returns its phase afterwards (None if it is gone)."""
        adapter = kind_named(kind)
        started = time.monotonic()
        try:
            with self._locked(kind, namespace, name):
                return self._reconcile(adapter, namespace, name, resume=trigger == "resume")
        except Exception:
            self.metrics.reconcile_errors.labels(kind).inc()
            raise
        finally:
            self.metrics.reconcile_seconds.labels(kind, trigger).observe(time.monotonic() - started)

    def sync(self, kind: str, namespace: str, name: str, *, trigger: str) -> Phase | None:
        """Copy the Job's state into the status, creating nothing (for Job and pod events)."""
        adapter = kind_named(kind)
        started = time.monotonic()
        try:
            with self._locked(kind, namespace, name):
                body = self.client.get_resource(adapter, namespace, name)
                if body is None or body["metadata"].get("deletionTimestamp"):
                    return None
                status = JobStatus.model_validate(body.get("status") or {})
                if status.phase in TERMINAL_PHASES:
                    return status.phase
                try:
                    job_name = self._child_name(adapter, body)
                except (ValidationError, ValueError):
                    return status.phase  # reconcile() reports an invalid resource
                job = self.client.get_job(namespace, job_name)
                if job is None:
                    return status.phase
                return self._observe(adapter, body, status, job)
        finally:
            self.metrics.reconcile_seconds.labels(kind, trigger).observe(time.monotonic() - started)

    def admit_waiting(self) -> int:
        """Reconcile resources held back by the concurrency limit, oldest first; returns how many
        were tried. Called when a Job finishes and on a slow tick, so a freed slot is used."""
        if not self.settings.max_running_jobs:
            return 0
        waiting: list[tuple[str, str, str, str]] = []
        for adapter in KINDS.values():
            for body in self.client.list_resources(adapter, self.settings.watch_namespaces):
                status = body.get("status") or {}
                if status.get("phase") in (None, Phase.PENDING.value, Phase.QUEUED.value) and not status.get(
                    "jobName"
                ):
                    meta = body["metadata"]
                    waiting.append(
                        (meta.get("creationTimestamp") or "", adapter.kind, meta["namespace"], meta["name"])
                    )
        free = self.settings.max_running_jobs - self._running_jobs()
        chosen = sorted(waiting)[: max(0, free)]
        for _, kind, namespace, name in chosen:
            # _start re-checks the limit under the admission lock: another trigger may have won.
            self.reconcile(kind, namespace, name, trigger="admission")
        return len(chosen)

    def _running_jobs(self) -> int:
        return sum(
            1 for j in self.client.list_managed_jobs(self.settings.watch_namespaces) if not _job_finished(j)
        )

    # --- the steps ----------------------------------------------------------------------

    def _child_name(self, adapter: ResourceKind, body: Mapping[str, Any]) -> str:
        return child_name(adapter.parse(body))

    def _reconcile(self, adapter: ResourceKind, namespace: str, name: str, *, resume: bool) -> Phase | None:
        body = self.client.get_resource(adapter, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            self.metrics.phases.observe(adapter.kind, namespace, name, None)
            return None
        status = JobStatus.model_validate(body.get("status") or {})
        self.metrics.phases.observe(adapter.kind, namespace, name, status.phase)
        if resume:
            self._resend_pending_webhook(adapter, body, status)
        if status.phase in TERMINAL_PHASES:
            return status.phase
        try:
            resource = adapter.parse(body)
        except ValidationError as exc:
            self._write(
                adapter,
                body,
                status,
                phase_update(
                    status,
                    phase=Phase.FAILED,
                    reason="InvalidSpec",
                    message=str(exc)[:1000],
                    generation=body["metadata"].get("generation"),
                ),
            )
            raise PermanentFailure(f"{adapter.kind} {namespace}/{name} does not validate: {exc}") from exc

        # A resource with no status at all was never started by anyone: skip the lookup and
        # create (a 409 on the Job falls back to it). Anything else is looked up first.
        fresh = not body.get("status") and not resume
        job = None if fresh else self.client.get_job(namespace, child_name(resource))
        if job is not None:
            return self._observe(adapter, body, status, job)
        if status.jobName:
            # The Job existed (the status names it) and is gone while the resource is not
            # finished: someone deleted it. That is a cancellation, not a reason to render again.
            return self._write(
                adapter,
                body,
                status,
                phase_update(
                    status,
                    phase=Phase.CANCELED,
                    reason="JobDeleted",
                    message=f"Job {status.jobName} was deleted before it finished",
                    generation=resource.metadata.generation,
                ),
            )
        return self._start(adapter, body, status, resource)

    def _start(
        self, adapter: ResourceKind, body: dict[str, Any], status: JobStatus, resource: Any
    ) -> Phase | None:
        namespace, name = resource.metadata.namespace, resource.metadata.name
        generation = resource.metadata.generation
        limit = self.settings.max_running_jobs
        # Without a limit, creates need no serializing; with one, count-then-create is atomic.
        with self._admission if limit else nullcontext():
            if limit:
                running = self._running_jobs()
                if running >= limit:
                    log.info(
                        "event=queued namespace=%s name=%s running=%d limit=%d",
                        namespace,
                        name,
                        running,
                        limit,
                    )
                    return self._write(
                        adapter,
                        body,
                        status,
                        phase_update(
                            status,
                            phase=Phase.QUEUED,
                            reason="ConcurrencyLimit",
                            message=f"waiting for a free slot: {running} of {limit} render Jobs are running",
                            generation=generation,
                        ),
                    )
            job = build_job(resource, self.settings)
            try:
                self._create_children(resource)
                created = self.client.create(job)
            except ApiException as exc:
                # Forbidden or rejected: nothing will change by itself; say so, then let kopf
                # retry with backoff (someone may fix RBAC or a quota meanwhile).
                if exc.status in (403, 422):
                    self._write(adapter, body, status, phase_update(
                        status, phase=Phase.PENDING, reason="CreateFailed",
                        message=f"cannot create the Job's objects: {exc.status} {exc.reason}",
                        generation=generation, stalled=True,
                    ))  # fmt: skip
                raise
        job_name = job["metadata"]["name"]
        if not created:
            # It existed already (a retry, or a crash after the create): observe that Job.
            existing = self.client.get_job(namespace, job_name)
            if existing is not None:
                return self._observe(adapter, body, status, existing)
        if created:
            self.metrics.jobs_created.labels(adapter.kind).inc()
            age = _age_seconds(body["metadata"].get("creationTimestamp"))
            if age is not None:
                self.metrics.apply_to_job_seconds.labels(adapter.kind).observe(age)
        log.info(
            "event=job_created namespace=%s name=%s job=%s created=%s", namespace, name, job_name, created
        )
        return self._write(
            adapter,
            body,
            status,
            phase_update(
                status,
                phase=Phase.QUEUED,
                reason="JobCreated",
                message=f"Job {job_name} created, waiting for its pod to run",
                generation=generation,
                job_name=job_name,
                attempts=0,
            ),
        )

    def _create_children(self, resource: Any) -> None:
        """Create the ConfigMap, ServiceAccount and Role concurrently, then the RoleBinding;
        return when all are done, raising the first error (409s are success inside ``create``)."""
        for wave in CHILD_WAVES:
            manifests = [builder(resource, self.settings) for builder in wave]
            futures = [self._creates.submit(self.client.create, manifest) for manifest in manifests]
            errors = [f.exception() for f in futures]  # waits for every create, failed or not
            for error in errors:
                if error is not None:
                    raise error

    def _observe(
        self, adapter: ResourceKind, body: dict[str, Any], status: JobStatus, job: dict[str, Any]
    ) -> Phase | None:
        pods = self.client.list_job_pods(body["metadata"]["namespace"], job["metadata"]["name"])
        observed = status_from_job(job, pods)
        patch = update_from_patch(status, observed, generation=body["metadata"].get("generation"))
        return self._write(adapter, body, status, patch)

    def _write(
        self, adapter: ResourceKind, body: dict[str, Any], status: JobStatus, patch: dict[str, Any]
    ) -> Phase | None:
        """Patch the status if anything changed; announce a phase change by webhook."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if not patch:
            return status.phase
        new_phase = Phase(patch["phase"]) if "phase" in patch else status.phase
        event = webhook_event(status.phase, new_phase)
        webhook = (body.get("spec") or {}).get("webhook")
        wants = (
            event is not None and webhook is not None and event in WebhookSpec.model_validate(webhook).events
        )
        if wants:
            assert event is not None
            patch["webhook"] = pending_delivery(event)
        self.client.patch_status(adapter, namespace, name, patch)
        if new_phase != status.phase and new_phase is not None:
            self.metrics.transitions.labels(adapter.kind, new_phase.value).inc()
            log.info(
                "event=phase namespace=%s name=%s from=%s to=%s reason=%s message=%r",
                namespace,
                name,
                status.phase,
                new_phase.value,
                patch.get("reason"),
                patch.get("message"),
            )
        self.metrics.phases.observe(adapter.kind, namespace, name, new_phase)
        if wants and self.notifier is not None:
            assert event is not None
            merged = {**(body.get("status") or {}), **patch}
            self.notifier.submit(adapter, {**body, "status": merged}, event)
        return new_phase

    def _resend_pending_webhook(self, adapter: ResourceKind, body: dict[str, Any], status: JobStatus) -> None:
        # A Pending delivery found at resume time was lost with a previous operator process.
        pending = status.webhook is not None and status.webhook.state == "Pending"
        if self.notifier is not None and pending and (body.get("spec") or {}).get("webhook"):
            assert status.webhook is not None
            self.notifier.submit(adapter, body, status.webhook.event)
