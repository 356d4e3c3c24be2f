"""Webhook events on phase changes, delivered off the reconcile path.

The phase patch that announces an event also writes ``status.webhook`` as
``{event, state: Pending}``; delivery (with its retries and backoff, in ``reelkube.webhooks``)
runs on a worker thread and records the outcome. An operator that restarts finds a Pending
delivery and sends it again: at-least-once.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from reelkube.api.common import WebhookSpec
from reelkube.api.status import JobStatus, WebhookDelivery
from reelkube.api.kinds import ResourceKind
from reelkube.controller.kube import ClusterClient
from reelkube.controller.metrics import OperatorMetrics

log = logging.getLogger(__name__)

SECRET_KEY = "secret"


def webhook_payload(adapter: ResourceKind, body: dict[str, Any], status: JobStatus) -> dict[str, Any]:
    """The JSON body POSTed for an event: the resource's identity, phase and status."""
    from reelkube.webhooks import event_payload

    meta = body.get("metadata", {})
    return event_payload(
        adapter.kind,
        meta.get("namespace", ""),
        meta.get("name", ""),
        meta.get("uid", ""),
        status.phase,
        status.model_dump(mode="json", exclude_none=True, exclude={"conditions"}),
    )


def delivery_id(body: dict[str, Any], event: str) -> str:
    """Stable across retries and operator restarts, so receivers can drop duplicates."""
    return f"{body.get('metadata', {}).get('uid', '')}-{event}"


def pending_delivery(event: str) -> dict[str, Any]:
    """``status.webhook`` while an event waits to be delivered."""
    return WebhookDelivery(event=event, state="Pending", attempts=0).model_dump(
        mode="json", exclude_none=True
    )


class WebhookNotifier:
    """Delivers webhook events on a small thread pool and writes the outcome to the status."""

    def __init__(self, client: ClusterClient, metrics: OperatorMetrics, workers: int = 8) -> None:
        self._client = client
        self._metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")

    def submit(self, adapter: ResourceKind, body: dict[str, Any], event: str) -> Future[None]:
        """Deliver ``event`` for the resource ``body`` (fresh from the API server) in the background."""
        return self._pool.submit(self._deliver, adapter, body, event)

    def _deliver(self, adapter: ResourceKind, body: dict[str, Any], event: str) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            from reelkube.webhooks import deliver  # the storage engineer's module; imported late

            webhook = WebhookSpec.model_validate(body["spec"]["webhook"])
            status = JobStatus.model_validate(body.get("status") or {})
            secret = None
            if webhook.secretRef:
                secret = self._client.read_secret_key(namespace, webhook.secretRef, SECRET_KEY)
                if secret is None:
                    log.warning(
                        "event=webhook_secret_missing namespace=%s name=%s secret=%s: sending unsigned",
                        namespace,
                        name,
                        webhook.secretRef,
                    )
            delivery = deliver(
                webhook,
                event,
                webhook_payload(adapter, body, status),
                secret=secret.encode() if secret is not None else None,
                delivery_id=delivery_id(body, event),
            )
        except Exception as exc:  # noqa: BLE001 - a webhook failure must not take the operator down
            log.exception("event=webhook_error namespace=%s name=%s webhook_event=%s", namespace, name, event)
            delivery = WebhookDelivery(event=event, state="Failed", message=str(exc)[:500])
        self._metrics.webhooks.labels(event, delivery.state).inc()
        log.info(
            "event=webhook_delivered namespace=%s name=%s webhook_event=%s state=%s attempts=%s code=%s",
            namespace,
            name,
            event,
            delivery.state,
            delivery.attempts,
            delivery.responseCode,
        )
        current = self._client.get_resource(adapter, namespace, name)
        if current is None:
            return
        recorded = (current.get("status") or {}).get("webhook") or {}
        # A later event may have replaced this one while it was being delivered.
        if recorded.get("event") == event:
            self._client.patch_status(
                adapter, namespace, name, {"webhook": delivery.model_dump(mode="json", exclude_none=True)}
            )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)
