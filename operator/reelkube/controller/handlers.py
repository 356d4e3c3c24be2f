"""kopf wiring, kept thin: each handler names the resource and calls the generic reconciler.

Run with ``reelkube operator`` (or ``kopf run -m reelkube.controller.handlers``).

- RenderJob/TTSJob created, or found at operator start (resume): ``Reconciler.reconcile``.
- Jobs and pods labelled ``app.kubernetes.io/managed-by=reelkube``: ``Reconciler.sync`` of the
  resource they belong to (the Job's controller ownerReference, the pod's annotation).
- Any change of a RenderJob/TTSJob, status included: ``Reconciler.watch_live`` (progress and
  voice-over webhooks, ``reelkube.io/redeliver``, the GPU fallback Event).
- ``spec.cancel`` set to true: ``Reconciler.reconcile``, which deletes the Job and writes
  Canceled. It is the only update handler: every other spec field is immutable (one CEL rule
  per field), so re-applying an unchanged resource does nothing. No delete handler and no
  finalizer: deletion cascades through ownerReferences, and the pod's SIGTERM lets the runner
  clean up.
- No kopf timers (they add finalizers): resources held back by the concurrency limits are
  admitted, in priority order, by a small background thread (``admission``), woken when a Job
  finishes; renders whose progress stands still are found by another (``stall_watch``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from reelkube.api.common import GROUP, VERSION
from reelkube.api.kinds import KINDS
from reelkube.controller.admission import Admission
from reelkube.controller.events import TransitionEvents
from reelkube.controller.job_manifests import KIND_LABEL, MANAGED_BY, MANAGED_BY_LABEL, RESOURCE_ANNOTATION
from reelkube.controller.job_observation import job_finished
from reelkube.controller.kube import ClusterClient, load_kube_config
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.notify import WebhookNotifier
from reelkube.controller.reconcile import PermanentFailure, Reconciler
from reelkube.controller.settings import OperatorSettings, settings_from_env
from reelkube.controller.stall_watch import StallWatch

log = logging.getLogger(__name__)

MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Read the chart's settings, build the reconciler and start metrics and admission."""
    operator_settings: OperatorSettings = settings_from_env(os.environ)
    # Keep kopf's bookkeeping in annotations under our own prefix, and out of `status`,
    # which belongs to the operator's phase fields and the pod's progress fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 32
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    metrics = OperatorMetrics()
    if operator_settings.metrics_port:
        metrics.serve(operator_settings.metrics_port)
    client = ClusterClient(load_kube_config())
    events = TransitionEvents(client)
    notifier = WebhookNotifier(
        client, metrics, policy=operator_settings.inputs.destination_policy(), events=events
    )
    reconciler = Reconciler(client, operator_settings, metrics, notifier, events)
    admission = Admission(reconciler)
    # Always: a Namespace's annotation can set a limit without any in the chart.
    admission.start()
    stall_watch = StallWatch(reconciler)
    stall_watch.start()
    memo.reconciler = reconciler
    memo.admission = admission
    memo.stall_watch = stall_watch
    log.info(
        "event=started image=%s max_running_jobs=%d max_running_tts=%d max_running_per_namespace=%d"
        " namespaces=%s",
        operator_settings.renderer_image,
        operator_settings.max_running_jobs,
        operator_settings.max_running_tts,
        operator_settings.max_running_per_namespace,
        ",".join(operator_settings.watch_namespaces) or "*",
    )


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod, the service account through the kubernetes client (which talks to the API by
    the KUBERNETES_SERVICE_HOST address: cluster DNS is not required); elsewhere $KUBECONFIG,
    read at login rather than when the kubernetes package was imported."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_via_client(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.cleanup()
def shutdown(memo: kopf.Memo, **_: Any) -> None:
    """Stop the admission and stall-watch threads, hand the Lease over, then stop the create
    pool and flush the Events and the webhook pool.

    kopf runs cleanup once its watchers and handlers have stopped, so with the two threads
    stopped nothing decides anything more here: the standby may take over while the Events
    already decided are still being posted (a queue of them can take seconds)."""
    if "admission" in memo:
        memo.admission.stop()
    if "stall_watch" in memo:
        memo.stall_watch.stop()
    if memo.get("election") is not None:
        memo.election.release()
    if "reconciler" in memo:
        memo.reconciler.close()
        if memo.reconciler.notifier is not None:
            memo.reconciler.notifier.shutdown()


def _reconcile(kind: str, trigger: str, name: str, namespace: str, memo: kopf.Memo) -> None:
    try:
        memo.reconciler.reconcile(kind, namespace, name, trigger=trigger)
    except PermanentFailure as exc:
        raise kopf.PermanentError(str(exc)) from exc


def _register(kind: str, plural: str) -> None:
    # Return None from every handler: kopf would store a returned value in the status.
    @kopf.on.create(GROUP, VERSION, plural, id=f"{plural}-create")
    def on_create(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        _reconcile(kind, "create", name, namespace or "", memo)

    @kopf.on.resume(GROUP, VERSION, plural, id=f"{plural}-resume")
    def on_resume(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        _reconcile(kind, "resume", name, namespace or "", memo)

    # The one field that may change after creation (false -> true, held by the CRD's CEL rule).
    @kopf.on.update(GROUP, VERSION, plural, field="spec.cancel", new=True, id=f"{plural}-cancel")
    def on_cancel(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        _reconcile(kind, "cancel", name, namespace or "", memo)

    # Every change the watch sees, status included (the pod's progress writes): progress and
    # voice-over webhooks, the reelkube.io/redeliver annotation, the GPU fallback Event. kopf's
    # update handlers compare the spec and metadata only, so a raw event handler watches these.
    @kopf.on.event(GROUP, VERSION, plural, id=f"{plural}-live")
    def on_live_change(
        body: kopf.Body, name: str, namespace: str | None, memo: Any, type: str, **_: Any
    ) -> None:
        if type == "DELETED" or "reconciler" not in memo:
            return
        memo.reconciler.watch_live(kind, namespace or "", name, body)


for _kind, _registered in KINDS.items():
    _register(_kind, _registered.plural)


def _owner_name(body: kopf.Body) -> str | None:
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") in KINDS:
            return str(ref["name"])
    return None


@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
def on_job_event(body: kopf.Body, namespace: str | None, memo: Any, type: str, **_: Any) -> None:
    """A Job of ours changed: copy its state into its resource's status."""
    kind = body.get("metadata", {}).get("labels", {}).get(KIND_LABEL)
    owner = _owner_name(body)
    if kind not in KINDS or owner is None or not namespace or "reconciler" not in memo:
        return
    if type == "DELETED":
        memo.reconciler.reconcile(kind, namespace, owner, trigger="job-deleted")
    else:
        memo.reconciler.sync(kind, namespace, owner, trigger="job")
    if type == "DELETED" or job_finished(body):
        memo.admission.wake()


@kopf.on.event("", "v1", "pods", labels=MANAGED)
def on_pod_event(body: kopf.Body, namespace: str | None, memo: Any, type: str, **_: Any) -> None:
    """A render pod changed (scheduled, running, terminated): refresh its resource's status."""
    meta = body.get("metadata", {})
    kind = meta.get("labels", {}).get(KIND_LABEL)
    owner = (meta.get("annotations") or {}).get(RESOURCE_ANNOTATION)
    if kind not in KINDS or not owner or not namespace or type == "DELETED" or "reconciler" not in memo:
        return
    memo.reconciler.sync(kind, namespace, owner, trigger="pod")
