"""Webhook events on phase changes, delivered off the reconcile path.

The phase patch that announces an event also writes ``status.webhook`` as
``{event, state: Pending}`` and, given the resource, a Pending record of the event in
``status.webhook.deliveries`` (:func:`pending_delivery`). Delivery (with its retries and
backoff, in ``reelkube.webhooks``) runs on worker threads, one event at a time and in order
for each resource, and records the outcome in both places. A worker makes one attempt; the wait
before a retry is a timer (:class:`RetryClock`), not a worker asleep, so receivers that are down
do not hold the workers through their backoff while other resources' webhooks wait. An operator
that restarts finds the Pending records and sends each event again
(:meth:`WebhookNotifier.resume`) with the same id, derived from the resource's uid and the
event: at-least-once, and receivers drop duplicates by the ``webhook-id``.

Which events are due is :func:`reelkube.webhooks.milestones.due_events`; the reconciler asks it
on each status write, and on each change of the live fields the pod writes. Each failed attempt
and each delivery given up is also a Kubernetes Event on the resource. Annotating a resource
``reelkube.io/redeliver=<event name, event id or "all">`` sends those recorded events again with
their ids (:meth:`WebhookNotifier.redeliver_requested`); the annotation is removed first.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from reelkube.api.common import WebhookSpec
from reelkube.api.kinds import ResourceKind
from reelkube.api.status import ResourceStatus, WebhookDelivery
from reelkube.controller.events import (
    WEBHOOK_FAILED,
    WEBHOOK_REDELIVERY,
    WEBHOOK_REDELIVERY_REFUSED,
    WEBHOOK_RETRYING,
    TransitionEvents,
)
from reelkube.controller.kube import ClusterClient
from reelkube.controller.metrics import OperatorMetrics
from reelkube.input_policy import InputPolicy
from reelkube.webhooks import event_id, event_payload, forwarded, transition_time
from reelkube.webhooks.delivery import DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY, Delivery
from reelkube.webhooks.history import deliveries_of, dump, mark_pending, pending_events, record_outcome
from reelkube.webhooks.milestones import Announcement

log = logging.getLogger(__name__)

SECRET_KEY = "secret"
REDELIVER_ANNOTATION = "reelkube.io/redeliver"
"""Annotating a resource with ``reelkube.io/redeliver=<event name | event id | all>`` asks for
those recorded events again, with their ids."""
REDELIVER_ALL = "all"


def _unserialized(kind: str, namespace: str, name: str) -> AbstractContextManager[None]:
    return nullcontext()


# One resource: (kind, namespace, name).
_ResourceKey = tuple[str, str, str]
# One queued delivery: the kind, the resource as submitted, the event, its id, its future.
_Queued = tuple[ResourceKind, dict[str, Any], str, str, Future[None]]


@dataclass
class _Sending:
    """An event's delivery under way: the attempts (None when it could not even start, with
    ``error`` saying why), how to record a retry, and the attempts made before this process."""

    delivery: Delivery | None
    record_retry: Callable[[WebhookDelivery], None]
    earlier_attempts: int
    error: str | None


def webhook_payload(
    adapter: ResourceKind,
    body: Mapping[str, Any],
    status: ResourceStatus,
    webhook: WebhookSpec | None = None,
    event: str | None = None,
) -> dict[str, Any]:
    """The JSON body POSTed for an event: the resource's identity, the labels and annotations
    ``webhook`` forwards, the phase, status and the time of the transition ``event`` announces."""
    meta = body.get("metadata", {})
    status_dict = status.model_dump(mode="json", exclude_none=True, exclude={"conditions"})
    return event_payload(
        adapter.kind,
        meta.get("namespace", ""),
        meta.get("name", ""),
        meta.get("uid", ""),
        status.phase,
        status_dict,
        labels=forwarded(meta.get("labels"), webhook.forwardLabels if webhook else None),
        annotations=forwarded(meta.get("annotations"), webhook.forwardAnnotations if webhook else None),
        occurred_at=transition_time(event, status_dict) if event else None,
    )


def delivery_id(body: Mapping[str, Any], event: str, occurrence: str | None = None) -> str:
    """The event's id: stable across retries and operator restarts, so receivers can drop
    duplicates (see :func:`reelkube.webhooks.event_id`; ``occurrence`` tells apart the events
    that come more than once, such as progress at each milestone)."""
    return event_id(body.get("metadata", {}).get("uid", ""), event, occurrence)


def pending_delivery(
    event: str, body: Mapping[str, Any] | None = None, occurrence: str | None = None
) -> dict[str, Any]:
    """``status.webhook`` while an event waits to be delivered. Given the resource (as read before
    the patch), it also carries ``deliveries`` with the event's Pending record, so the event
    survives a restart even when a later event replaces ``status.webhook``."""
    pending = WebhookDelivery(event=event, state="Pending", attempts=0).model_dump(
        mode="json", exclude_none=True
    )
    if body is not None:
        eid = delivery_id(body, event, occurrence)
        records = mark_pending(deliveries_of(body.get("status")), event, eid)
        pending["deliveries"] = dump(records)
    return pending


def pending_announcements(body: Mapping[str, Any], announcements: list[Announcement]) -> dict[str, Any]:
    """``status.webhook`` announcing several events at once (a render seen going from Queued to
    Succeeded announces started, then succeeded): a Pending record for each, in order, in
    ``deliveries``; the scalar fields name the last one."""
    records = deliveries_of(body.get("status"))
    for announcement in announcements:
        records = mark_pending(records, announcement.event, announcement.id)
    last = announcements[-1].event
    pending = WebhookDelivery(event=last, state="Pending", attempts=0).model_dump(
        mode="json", exclude_none=True
    )
    return {**pending, "deliveries": dump(records)}


def redelivery_value(body: Mapping[str, Any]) -> str | None:
    """The value of the resource's ``reelkube.io/redeliver`` annotation (None when absent)."""
    annotations = body.get("metadata", {}).get("annotations") or {}
    value = annotations.get(REDELIVER_ANNOTATION)
    return None if value is None else value.strip()


def redelivery_targets(body: Mapping[str, Any]) -> tuple[list[tuple[str, str]], str | None]:
    """The recorded events ``(event, id)`` the ``reelkube.io/redeliver`` annotation names, oldest
    first, or why none can be sent. The value is ``all`` (every recorded event), an event name
    (each recorded event of that name: every progress milestone for ``progress``) or one event's
    id (``evt_...``, the ``webhook-id``). Only recorded events are sent: an event that has not
    happened, or was never subscribed to, has nothing to send again."""
    value = redelivery_value(body)
    if not value:
        return [], f"{REDELIVER_ANNOTATION} is empty: name an event, an event id or {REDELIVER_ALL}"
    if not (body.get("spec") or {}).get("webhook"):
        return [], "the resource has no spec.webhook to deliver to"
    records = deliveries_of(body.get("status"))
    if value == REDELIVER_ALL:
        chosen = records
    elif value.startswith("evt_"):
        chosen = [r for r in records if r.id == value]
    else:
        chosen = [r for r in records if r.event == value]
    if not chosen:
        known = ", ".join(sorted({r.event for r in records})) or "none yet"
        return [], f"no delivery of {value!r} is recorded (recorded events: {known})"
    return [(r.event, r.id) for r in chosen], None


class RetryClock:
    """Runs callbacks after their delays, on one timer thread, earliest first.

    The notifier's retries wait here instead of in a worker: each callback only hands the next
    attempt back to the worker pool."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="webhook-retry-clock", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._due, (self._clock() + delay, next(self._order), callback))
            self._wake.notify()

    def pending(self) -> int:
        """How many callbacks wait."""
        with self._wake:
            return len(self._due)

    def stop(self) -> None:
        """Run nothing more (what waits is dropped: its Pending records are resumed by the next
        operator process)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._due or self._due[0][0] > self._clock()):
                    self._wake.wait(None if not self._due else max(0.0, self._due[0][0] - self._clock()))
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._due)
            try:
                callback()
            except Exception:  # noqa: BLE001 - one callback's failure must not stop the clock
                log.exception("event=webhook_retry_clock_error")


class WebhookNotifier:
    """Delivers webhook events on a small thread pool and writes the outcome to the status.

    The events of one resource are delivered one at a time, in the order they were submitted;
    different resources proceed in parallel.

    Each URL is checked against ``policy`` before anything is sent (default: the cluster's
    rules with nothing allowed; the operator passes the one its chart values make): a refused
    destination is recorded as Failed at once, never retried."""

    def __init__(
        self,
        client: ClusterClient,
        metrics: OperatorMetrics,
        workers: int = 8,
        *,
        base_delay: float = DEFAULT_BASE_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        policy: InputPolicy | None = None,
        events: TransitionEvents | None = None,
    ) -> None:
        self._client = client
        self._events = events
        self.serialize: Callable[[str, str, str], AbstractContextManager[None]] = _unserialized
        """The per-resource lock around writing a delivery's record (``(kind, namespace, name)``);
        the reconciler sets its own, so that a record written while a retry goes on and a
        status write announcing the next event never replace each other's ``deliveries``."""
        self._policy = policy or InputPolicy.cluster(asset_dir=None)
        self._metrics = metrics
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._retries = RetryClock()
        # A resource has a queue exactly while one worker is draining it.
        self._queues: dict[_ResourceKey, deque[_Queued]] = {}
        self._guard = threading.Lock()

    def submit(
        self,
        adapter: ResourceKind,
        body: dict[str, Any],
        event: str,
        event_id: str | None = None,
        *,
        occurrence: str | None = None,
    ) -> Future[None]:
        """Deliver ``event`` for the resource ``body`` (fresh from the API server) in the background.

        ``event_id`` defaults to the id derived from the uid, the event and ``occurrence``. An
        event already waiting in this resource's queue is not queued twice; its future is
        returned."""
        meta = body["metadata"]
        key = (adapter.kind, meta["namespace"], meta["name"])
        eid = event_id or delivery_id(body, event, occurrence)
        with self._guard:
            queue = self._queues.get(key)
            if queue is not None:
                waiting = next((item for item in queue if item[3] == eid), None)
                if waiting is not None:
                    return waiting[4]
            done: Future[None] = Future()
            item: _Queued = (adapter, body, event, eid, done)
            if queue is not None:
                queue.append(item)
                return done
            self._queues[key] = deque([item])
        self._pool.submit(self._drain, key)
        return done

    def resume(self, adapter: ResourceKind, body: dict[str, Any]) -> list[Future[None]]:
        """Send again, oldest first, every event the status still holds as Pending: a previous
        operator process announced it but did not record its outcome."""
        if not (body.get("spec") or {}).get("webhook"):
            return []
        return [self.submit(adapter, body, event, eid) for event, eid in pending_events(body.get("status"))]

    def redeliver(
        self, adapter: ResourceKind, body: dict[str, Any], targets: list[tuple[str, str]]
    ) -> list[Future[None]]:
        """Send the events ``targets`` (``(event, id)``) again, with their ids and the resource's
        current status. Their records go back to Pending first (keeping their attempts) in one
        status patch, so a restart in between still sends them."""
        meta = body["metadata"]
        status = body.get("status") or {}
        records = deliveries_of(status)
        for event, eid in targets:
            records = mark_pending(records, event, eid)
        webhook_patch: dict[str, Any] = {"deliveries": dump(records)}
        if not (status.get("webhook") or {}).get("event"):
            webhook_patch = {**pending_delivery(targets[-1][0]), **webhook_patch}
        self._client.patch_status(adapter, meta["namespace"], meta["name"], {"webhook": webhook_patch})
        webhook = {**(status.get("webhook") or {}), **webhook_patch}
        resent = {**body, "status": {**status, "webhook": webhook}}
        return [self.submit(adapter, resent, event, eid) for event, eid in targets]

    def redeliver_requested(self, adapter: ResourceKind, body: dict[str, Any]) -> list[Future[None]]:
        """Act on the ``reelkube.io/redeliver`` annotation of ``body`` (read fresh, under the
        resource's lock): remove it first, so that the watch events that follow do not ask
        again, then resend what it names and say so in an Event (a Warning with the reason when
        it names nothing that can be sent)."""
        if redelivery_value(body) is None:
            return []
        meta = body["metadata"]
        targets, refusal = redelivery_targets(body)
        self._client.remove_annotation(adapter, meta["namespace"], meta["name"], REDELIVER_ANNOTATION)
        log.info(
            "event=webhook_redelivery namespace=%s name=%s events=%s refused=%s",
            meta["namespace"],
            meta["name"],
            ",".join(eid for _, eid in targets),
            refusal,
        )
        if refusal is not None:
            if self._events is not None:
                self._events.notice(body, WEBHOOK_REDELIVERY_REFUSED, refusal, warning=True)
            return []
        if self._events is not None:
            listed = ", ".join(f"{event} ({eid})" for event, eid in targets)
            self._events.notice(body, WEBHOOK_REDELIVERY, f"sending again with the same ids: {listed}")
        return self.redeliver(adapter, body, targets)

    def _drain(self, key: _ResourceKey) -> None:
        """Deliver the resource's queued events in order. An event whose attempt failed and will be
        retried keeps the queue (later events wait behind it) and frees this worker: its next
        attempt comes back through :meth:`_retry`."""
        while True:
            with self._guard:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                item = queue.popleft()
            if not self._advance(key, item, None):
                return

    def _retry(self, key: _ResourceKey, item: _Queued, sending: _Sending) -> None:
        if self._advance(key, item, sending):
            self._drain(key)

    def _advance(self, key: _ResourceKey, item: _Queued, sending: _Sending | None) -> bool:
        """One attempt of ``item``'s delivery (starting it when ``sending`` is None). True when
        the event is done (its future resolved); False when its next attempt is scheduled."""
        adapter, body, event, eid, done = item
        try:
            sending = sending or self._start(adapter, body, event, eid)
            delay = sending.delivery.attempt() if sending.delivery is not None else None
            if delay is not None:
                sending.record_retry(sending.delivery.result(final=False))  # type: ignore[union-attr]
                self._retries.call_later(delay, lambda: self._resubmit(key, item, sending))
                return False
            self._finish(adapter, body, event, eid, sending)
        except Exception as exc:  # noqa: BLE001 - one resource's failure must not stop its queue
            log.exception(
                "event=webhook_record_error namespace=%s name=%s webhook_event=%s", key[1], key[2], event
            )
            done.set_exception(exc)
        else:
            done.set_result(None)
        return True

    def _resubmit(self, key: _ResourceKey, item: _Queued, sending: _Sending) -> None:
        try:
            self._pool.submit(self._retry, key, item, sending)
        except RuntimeError:  # shut down: the Pending record stays for the next operator process
            log.info(
                "event=webhook_retry_dropped namespace=%s name=%s webhook_event=%s", key[1], key[2], item[2]
            )

    def _secret(self, namespace: str, name: str, webhook: WebhookSpec) -> bytes | None:
        if not webhook.secretRef:
            return None
        secret = self._client.read_secret_key(namespace, webhook.secretRef, SECRET_KEY)
        if secret is None:
            log.warning(
                "event=webhook_secret_missing namespace=%s name=%s secret=%s: sending unsigned",
                namespace,
                name,
                webhook.secretRef,
            )
            return None
        return secret.encode()

    def _start(self, adapter: ResourceKind, body: dict[str, Any], event: str, eid: str) -> _Sending:
        """Begin delivering ``event``: its payload, signing secret and destination check."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        # Attempts made before this delivery (by a process that died, or before a redelivery).
        before = next((r for r in deliveries_of(body.get("status")) if r.id == eid), None)
        earlier_attempts = before.attempts if before is not None else 0

        def record_retry(so_far: WebhookDelivery) -> None:
            self._tell_failure(body, event, eid, so_far, earlier_attempts, WEBHOOK_RETRYING)
            try:
                self._record(adapter, body, event, eid, so_far, earlier_attempts)
            except Exception:  # noqa: BLE001 - the delivery goes on; its outcome is written at the end
                log.warning(
                    "event=webhook_record_retry_error namespace=%s name=%s webhook_event=%s",
                    namespace,
                    name,
                    event,
                    exc_info=True,
                )

        try:
            webhook = WebhookSpec.model_validate(body["spec"]["webhook"])
            status = ResourceStatus.model_validate(body.get("status") or {})
            delivery = Delivery(
                webhook,
                event,
                webhook_payload(adapter, body, status, webhook, event),
                secret=self._secret(namespace, name, webhook),
                delivery_id=eid,
                base_delay=self._base_delay,
                max_delay=self._max_delay,
                policy=self._policy,
            )
        except Exception as exc:  # noqa: BLE001 - a webhook failure must not take the operator down
            log.exception("event=webhook_error namespace=%s name=%s webhook_event=%s", namespace, name, event)
            return _Sending(None, record_retry, earlier_attempts, str(exc)[:500])
        return _Sending(delivery, record_retry, earlier_attempts, None)

    def _finish(
        self, adapter: ResourceKind, body: dict[str, Any], event: str, eid: str, sending: _Sending
    ) -> None:
        """Count, tell and record the outcome of a delivery that is over."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if sending.delivery is None:
            delivery = WebhookDelivery(event=event, state="Failed", message=sending.error)
        else:
            delivery = sending.delivery.result()
        earlier_attempts = sending.earlier_attempts
        self._metrics.webhooks.labels(event, delivery.state).inc()
        if delivery.state == "Failed":
            self._tell_failure(body, event, eid, delivery, earlier_attempts, WEBHOOK_FAILED)
        log.info(
            "event=webhook_delivered namespace=%s name=%s webhook_event=%s id=%s state=%s "
            "attempts=%s code=%s",
            namespace,
            name,
            event,
            eid,
            delivery.state,
            delivery.attempts,
            delivery.responseCode,
        )
        self._record(adapter, body, event, eid, delivery, earlier_attempts)

    def _tell_failure(
        self,
        body: Mapping[str, Any],
        event: str,
        eid: str,
        delivery: WebhookDelivery,
        earlier_attempts: int,
        reason: str,
    ) -> None:
        """A Warning Event for a failed attempt that will be retried, or a delivery given up.
        Named after the event's id and attempt count, so it is told once."""
        if self._events is None:
            return
        attempts = earlier_attempts + delivery.attempts
        what = "will be retried" if reason == WEBHOOK_RETRYING else "given up"
        message = (
            f"webhook {event} ({eid}) attempt {attempts} failed, {what}: {delivery.message or 'no answer'}"
        )
        key = f"{eid}-{'retry' if reason == WEBHOOK_RETRYING else 'failed'}-{attempts}"
        self._events.notice(body, reason, message, warning=True, key=key.replace("_", "-"))

    def _record(
        self,
        adapter: ResourceKind,
        body: dict[str, Any],
        event: str,
        eid: str,
        delivery: WebhookDelivery,
        earlier_attempts: int,
    ) -> None:
        """Write the event's record in ``deliveries``: its retries so far while ``delivery`` is
        Pending, then its outcome. An outcome also goes to the ``status.webhook`` fields, while
        they still describe this event."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        with self.serialize(adapter.kind, namespace, name):
            self._record_now(adapter, body, event, eid, delivery, earlier_attempts)

    def _record_now(
        self,
        adapter: ResourceKind,
        body: dict[str, Any],
        event: str,
        eid: str,
        delivery: WebhookDelivery,
        earlier_attempts: int,
    ) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        current = self._client.get_resource(adapter, namespace, name)
        if current is None or current["metadata"].get("uid") != body["metadata"].get("uid"):
            return  # gone, or a new resource under the same name
        current_status = current.get("status") or {}
        records = record_outcome(deliveries_of(current_status), eid, delivery, earlier_attempts)
        patch: dict[str, Any] = {"deliveries": dump(records)}
        recorded = current_status.get("webhook") or {}
        # A later event may have replaced this one in status.webhook while it was being delivered;
        # with none there at all, the fields are written so that status.webhook stays complete.
        last = recorded.get("event")
        if last is None or (last == event and delivery.state != "Pending"):
            patch = {**delivery.model_dump(mode="json", exclude_none=True), **patch}
        self._client.patch_status(adapter, namespace, name, {"webhook": patch})

    def shutdown(self) -> None:
        self._retries.stop()
        self._pool.shutdown(wait=False, cancel_futures=False)
