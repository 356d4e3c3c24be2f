"""Webhook delivery: a signed JSON POST, retried with exponential backoff.

One delivery is one event sent to one URL. Every attempt of it carries the same body and the
same id (``webhook-id``, also sent as ``X-Reelkube-Delivery``), so a receiver can drop
duplicates. The body is the payload with ``event``, ``id`` and ``sentAt`` (when the body was
built) added, so the signed bytes name their event. Each attempt is signed afresh as the
Standard Webhooks specification says (see :mod:`reelkube.webhooks.signing`): its own
``webhook-timestamp``, its own ``webhook-signature``.

Retried: connection errors and timeouts, HTTP 408, 429 and 5xx (``Retry-After`` in seconds is
honoured up to ``max_delay``). Final: any other status, a redirect included (redirects are never
followed). The attempt logic lives in :class:`_Attempts`; :class:`Delivery` sends one attempt at a time;
:func:`deliver` sends and sleeps.

The operator posts from inside the cluster, so the URL is checked against a destination policy
first (:class:`~reelkube.input_policy.InputPolicy`, the same rules as the render pod's inputs):
a URL whose host is loopback, link-local, a metadata address, private or in the cluster's ranges
is refused unless the chart allows it, and the refusal is final (``Failed``, nothing sent). The
host is resolved once and every attempt connects to the checked address.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from reelkube.api.common import WebhookSpec
from reelkube.api.status import WebhookDelivery
from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy
from reelkube.input_policy.pinned import PinnedTransport
from reelkube.webhooks.signing import LEGACY_SIGNATURE_HEADER, sign, signing_key, standard_headers

log = logging.getLogger(__name__)

EVENT_HEADER = "X-Reelkube-Event"
DELIVERY_HEADER = "X-Reelkube-Delivery"
USER_AGENT = "reelkube-webhook/1"
DEFAULT_TIMEOUT = 10.0
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 60.0
_RETRYABLE_STATUS = {408, 429}
URL_FIELD = "spec.webhook.url"


def is_subscribed(webhook: WebhookSpec, event: str) -> bool:
    """Whether the webhook asked for ``event``; :func:`deliver` sends whatever it is given."""
    return event in webhook.events


def redacted_url(url: str) -> str:
    """The URL without credentials, query or fragment: webhook URLs often carry tokens there."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid URL>"
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


def rfc3339(seconds: float) -> str:
    """A time in seconds since the epoch as RFC 3339 UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Attempts:
    """The state of one delivery across its attempts, kept apart from the I/O that sends them."""

    def __init__(
        self,
        webhook: WebhookSpec,
        event: str,
        payload: dict[str, Any],
        secret: bytes | None,
        delivery_id: str | None,
        base_delay: float,
        max_delay: float,
        clock: Callable[[], float],
    ) -> None:
        self.webhook = webhook
        self.event = event
        self.clock = clock
        self.delivery_id = delivery_id or "msg_" + uuid.uuid4().hex
        sent_at = rfc3339(clock())
        self.body = encode_body({"event": event, "id": self.delivery_id, "sentAt": sent_at, **payload})
        self.key = signing_key(secret) if secret else None
        self.headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: event,
            DELIVERY_HEADER: self.delivery_id,
        }
        if secret:
            self.headers[LEGACY_SIGNATURE_HEADER] = sign(self.body, secret)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.attempts = 0
        self.response_code: int | None = None
        self.message: str | None = None
        self.delivered = False
        self.last_attempt_time: str | None = None
        self._where = redacted_url(webhook.url)

    def next_headers(self) -> dict[str, str]:
        """The headers of the attempt about to be made: signed with the time it is sent."""
        timestamp = int(self.clock())
        return {**self.headers, **standard_headers(self.delivery_id, timestamp, self.body, self.key)}

    def _next_delay(self, retryable: bool, retry_after: str | None = None) -> float | None:
        if not retryable or self.attempts >= self.webhook.maxAttempts:
            return None
        delay = self.base_delay * 2 ** (self.attempts - 1)
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        return min(delay, self.max_delay)

    def record_response(self, response: httpx.Response) -> float | None:
        """Note one answer; returns the seconds to wait before the next attempt, or None when done."""
        self.attempts += 1
        self.last_attempt_time = rfc3339(self.clock())
        self.response_code = response.status_code
        self.delivered = response.is_success
        self.message = None if self.delivered else f"HTTP {response.status_code} from {self._where}"
        retryable = response.status_code in _RETRYABLE_STATUS or response.status_code >= 500
        self._log()
        return None if self.delivered else self._next_delay(retryable, response.headers.get("Retry-After"))

    def record_error(self, exc: httpx.HTTPError) -> float | None:
        """Note one failed exchange (no answer); returns the wait before the next attempt, or None."""
        self.attempts += 1
        self.last_attempt_time = rfc3339(self.clock())
        self.response_code = None
        self.message = f"{type(exc).__name__} sending to {self._where}: {exc}"
        self._log()
        retryable = isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol)
        return self._next_delay(retryable)

    def _log(self) -> None:
        log.log(
            logging.INFO if self.delivered else logging.WARNING,
            "webhook attempt event=%s delivery=%s url=%s attempt=%d/%d code=%s delivered=%s",
            self.event,
            self.delivery_id,
            self._where,
            self.attempts,
            self.webhook.maxAttempts,
            self.response_code,
            self.delivered,
        )

    def record_refusal(self, exc: InputForbidden) -> None:
        """Note that the destination policy refused the URL: nothing was sent, nothing will be."""
        self.response_code = None
        # The rule names the URL; its query or user-info may hold a token, so only the redacted form.
        reason = exc.message.replace(self.webhook.url, self._where)
        self.message = f"refused by the destination policy: {reason}"
        log.warning(
            "webhook refused event=%s delivery=%s url=%s reason=%s",
            self.event,
            self.delivery_id,
            self._where,
            reason,
        )

    def result(self, final: bool = True) -> WebhookDelivery:
        """The outcome in the status model; with ``final`` False, the state so far (Pending)."""
        state = "Pending" if not final else "Delivered" if self.delivered else "Failed"
        # deliveryId is an extra field (the model allows extras; the CRD status preserves them).
        return WebhookDelivery.model_validate(
            {
                "event": self.event,
                "state": state,
                "attempts": self.attempts,
                "responseCode": self.response_code,
                "lastAttemptTime": self.last_attempt_time,
                "message": self.message,
                "deliveryId": self.delivery_id,
            }
        )


class Delivery:
    """One event's delivery, one attempt at a time.

    :meth:`attempt` sends once and returns the seconds to wait before the next attempt, or None
    when the delivery is over (delivered, failed for good, out of attempts, or refused by the
    destination policy before anything was sent). The caller decides how to wait: :func:`deliver`
    sleeps; the operator schedules the next attempt on a timer, so a receiver that is down does
    not hold a delivery thread through its backoff while other resources' webhooks wait.

    ``policy`` decides which destinations may be reached (default: the local policy, any
    address). The URL is checked, and its host resolved, once: every attempt connects to the
    checked address."""

    def __init__(
        self,
        webhook: WebhookSpec,
        event: str,
        payload: dict[str, Any],
        *,
        secret: bytes | None,
        delivery_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        base_delay: float = DEFAULT_BASE_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        clock: Callable[[], float] = time.time,
        policy: InputPolicy | None = None,
    ) -> None:
        self._attempts = _Attempts(webhook, event, payload, secret, delivery_id, base_delay, max_delay, clock)
        self._timeout = timeout
        self._target: tuple[str, str] | None = None
        try:
            self._target = (policy or InputPolicy.local()).check_url(webhook.url, URL_FIELD)
        except InputForbidden as exc:
            self._attempts.record_refusal(exc)

    def attempt(self) -> float | None:
        """Send once; the wait before the next attempt, or None when there is none."""
        if self._target is None:
            return None
        attempts = self._attempts
        pinned = PinnedTransport(*self._target)
        with httpx.Client(
            transport=pinned, timeout=self._timeout, follow_redirects=False, trust_env=False
        ) as client:
            try:
                response = client.post(
                    attempts.webhook.url, content=attempts.body, headers=attempts.next_headers()
                )
            except httpx.HTTPError as exc:
                return attempts.record_error(exc)
        return attempts.record_response(response)

    def result(self, final: bool = True) -> WebhookDelivery:
        """The outcome (``final``) or the state so far (Pending) in the status model."""
        return self._attempts.result(final)


def deliver(
    webhook: WebhookSpec,
    event: str,
    payload: dict[str, Any],
    *,
    secret: bytes | None,
    delivery_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    base_delay: float = DEFAULT_BASE_DELAY,
    max_delay: float = DEFAULT_MAX_DELAY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_retry: Callable[[WebhookDelivery], None] | None = None,
    policy: InputPolicy | None = None,
) -> WebhookDelivery:
    """POST ``payload`` as JSON to ``webhook.url``, retrying up to ``webhook.maxAttempts``, and
    sleeping in between (a :class:`Delivery` in a loop).

    ``secret`` is the value stored in the webhook's Secret (``whsec_<base64>`` or raw bytes, see
    :mod:`reelkube.webhooks.signing`); None sends unsigned. Waits ``base_delay * 2**(n-1)``
    seconds (at most ``max_delay``) after the n-th failed attempt. ``delivery_id`` (the
    ``webhook-id``) defaults to a fresh random id; pass the event's id
    (:func:`reelkube.webhooks.event_id`) to keep it stable across processes. ``clock`` gives
    the time each attempt is signed with. ``on_retry`` is told the state so far (Pending, with
    the attempts, last code and error) after each failed attempt that will be retried. Never
    raises for delivery failures: the result says Delivered or Failed; a malformed ``whsec_``
    secret raises ValueError before anything is sent.

    ``policy`` decides which destinations may be reached (default: the local policy, any
    address); the operator passes the cluster's. A URL it refuses (or whose host does not
    resolve) is Failed at once with 0 attempts and a message naming the rule."""
    delivery = Delivery(
        webhook, event, payload, secret=secret, delivery_id=delivery_id, timeout=timeout,
        base_delay=base_delay, max_delay=max_delay, clock=clock, policy=policy,
    )  # fmt: skip
    while (delay := delivery.attempt()) is not None:
        if on_retry is not None:
            on_retry(delivery.result(final=False))
        sleep(delay)
    return delivery.result()
