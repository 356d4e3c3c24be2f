"""One active operator among replicas: a ``coordination.k8s.io`` Lease held around kopf.

The chart runs two replicas. Each one, before it starts kopf, waits to hold the Lease named by
the chart (``operator.leaderElection``); the holder renews it every ``retry_seconds``. A standby
takes the Lease when the holder releases it (a graceful stop: after kopf and its cleanup have
finished) or when it has not been renewed for ``lease_seconds``. A holder that cannot renew
within ``renew_deadline_seconds`` (shorter than the lease) stops acting at once, by exiting, so
two operators never reconcile together: the same rule as client-go's leader election, with
shorter timings (10 s, 7 s, 2 s against client-go's 15 s, 10 s, 2 s) so that a replica killed
without grace is replaced within 15 s.

Why a Lease rather than kopf's peering: peering is presence, not a lock (operators of the same
priority all pause; a new one acts before it has seen the others), and it pauses only kopf's
watch streams, while the admission and stall-watch threads and the webhook pool run beside kopf.
Holding the Lease before anything starts covers all of them.

The decision (:func:`lease_verdict`) is pure; :class:`LeaderElection` carries it out.
"""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

EXIT_LEADERSHIP_LOST = 75
"""The exit status of an operator that lost its Lease (the container restarts as a standby)."""


@dataclass(frozen=True)
class LeaseTiming:
    """How long a Lease lasts unrenewed, how long a holder keeps trying to renew, how often."""

    lease_seconds: int = 10
    renew_deadline_seconds: int = 7
    retry_seconds: int = 2

    def check(self) -> None:
        """ValueError unless retry < renew deadline < lease (the holder must give up first)."""
        if not 0 < self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            raise ValueError(
                "leader election needs 0 < retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds,"
                f" got {self.retry_seconds}, {self.renew_deadline_seconds}, {self.lease_seconds}"
            )


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says: who holds it, when it was last renewed, for how long."""

    holder: str | None
    renew_time: dt.datetime | None
    lease_seconds: int
    transitions: int = 0


class Verdict(Enum):
    """What a replica may do with the Lease as it stands."""

    TAKE = "take"
    """Free, released, or expired: write ourselves in (a conflict means another replica won)."""
    RENEW = "renew"
    """Ours: write a new renew time."""
    WAIT = "wait"
    """Another replica holds it and it has not expired."""


def lease_verdict(
    record: LeaseRecord | None, identity: str, now: dt.datetime, unchanged_for: float | None = None
) -> Verdict:
    """Decide from the Lease as read. ``unchanged_for`` is how long (our monotonic clock) this
    replica has seen the same record: expiry by it does not depend on the holder's clock."""
    if record is None or not record.holder:
        return Verdict.TAKE
    if record.holder == identity:
        return Verdict.RENEW
    if unchanged_for is not None and unchanged_for >= record.lease_seconds:
        return Verdict.TAKE
    if record.renew_time is None:
        return Verdict.TAKE
    if now >= record.renew_time + dt.timedelta(seconds=record.lease_seconds):
        return Verdict.TAKE
    return Verdict.WAIT


def _record(lease: client.V1Lease | None) -> LeaseRecord | None:
    if lease is None or lease.spec is None:
        return None
    spec = lease.spec
    renewed = spec.renew_time
    if renewed is not None and renewed.tzinfo is None:
        renewed = renewed.replace(tzinfo=dt.UTC)
    return LeaseRecord(
        holder=spec.holder_identity or None,
        renew_time=renewed,
        lease_seconds=int(spec.lease_duration_seconds or 0),
        transitions=int(spec.lease_transitions or 0),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaderElection:
    """Acquire, renew and release one Lease for this replica (``identity``: its pod name)."""

    def __init__(
        self,
        api: client.CoordinationV1Api,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming = LeaseTiming(),
    ) -> None:
        timing.check()
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._last_renewed = 0.0
        # The record last read and when (monotonic) it was first seen unchanged.
        self._seen: tuple[tuple[str | None, dt.datetime | None], float] | None = None

    def _read(self) -> client.V1Lease | None:
        try:
            return self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _unchanged_for(self, record: LeaseRecord | None) -> float | None:
        key = (record.holder, record.renew_time) if record else (None, None)
        now = time.monotonic()
        if self._seen is None or self._seen[0] != key:
            self._seen = (key, now)
            return 0.0
        return now - self._seen[1]

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this replica holds the Lease afterwards. API errors and
        conflicts (another replica wrote first) are False, never raised."""
        try:
            lease = self._read()
            record = _record(lease)
            verdict = lease_verdict(record, self.identity, _now(), self._unchanged_for(record))
            if verdict is Verdict.WAIT:
                return False
            now = _now()
            taken = verdict is Verdict.TAKE
            spec = client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=self.timing.lease_seconds,
                renew_time=now,
                acquire_time=now if taken else (lease.spec.acquire_time if lease else now),
                lease_transitions=(record.transitions if record else 0) + int(taken),
            )
            if lease is None:
                body = client.V1Lease(metadata=client.V1ObjectMeta(name=self.name), spec=spec)
                self.api.create_namespaced_lease(self.namespace, body)
            else:
                # resourceVersion makes the write conditional: a concurrent taker gets a 409.
                lease.spec = spec
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            log.log(
                logging.DEBUG if exc.status == 409 else logging.WARNING,
                "event=lease_write_failed lease=%s/%s status=%s reason=%s",
                self.namespace,
                self.name,
                exc.status,
                exc.reason,
            )
            return False
        except Exception as exc:  # connection refused while the API server restarts, timeouts
            log.warning("event=lease_write_failed lease=%s/%s error=%s", self.namespace, self.name, exc)
            return False
        self._last_renewed = time.monotonic()
        return True

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until this replica holds the Lease (True), or ``stop`` is set (False)."""
        stop = stop or threading.Event()
        log.info("event=standby lease=%s/%s identity=%s", self.namespace, self.name, self.identity)
        while not stop.is_set():
            if self.try_acquire_or_renew():
                log.info(
                    "event=leader_elected lease=%s/%s identity=%s", self.namespace, self.name, self.identity
                )
                return True
            stop.wait(self.timing.retry_seconds)
        return False

    def keep_renewing(self, on_lost: Callable[[], None]) -> None:
        """Renew every ``retry_seconds`` on a daemon thread; call ``on_lost`` once when a renewal
        has not succeeded for ``renew_deadline_seconds`` or another replica holds the Lease."""

        def renew() -> None:
            while not self._stop.wait(self.timing.retry_seconds):
                if self.try_acquire_or_renew():
                    continue
                if time.monotonic() - self._last_renewed >= self.timing.renew_deadline_seconds:
                    log.error(
                        "event=leadership_lost lease=%s/%s identity=%s not renewed for %ds",
                        self.namespace,
                        self.name,
                        self.identity,
                        self.timing.renew_deadline_seconds,
                    )
                    on_lost()
                    return

        self._renewer = threading.Thread(target=renew, name="lease-renewer", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and hand the Lease over at once (holder cleared), if still ours. Once
        only: later calls do nothing."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.timing.retry_seconds + 5)
        try:
            lease = self._read()
            if lease is None or lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = _now()
            lease.spec.lease_duration_seconds = 1
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("event=lease_released lease=%s/%s identity=%s", self.namespace, self.name, self.identity)
        except Exception as exc:  # the standby then waits out the lease instead
            log.warning("event=lease_release_failed lease=%s/%s error=%s", self.namespace, self.name, exc)


def exit_on_lost_leadership() -> None:
    """Stop acting at once: another replica may take the Lease as soon as it expires, and kopf,
    the admission thread and the webhook pool cannot all be stopped within that time."""
    logging.shutdown()
    os._exit(EXIT_LEADERSHIP_LOST)


@contextmanager
def standby_health(port: int) -> Iterator[None]:
    """Answer the liveness and readiness probes (any path, 200 ``standby``) while this replica
    waits for the Lease; kopf serves them once it runs. A standby is Ready: it is healthy, and a
    PodDisruptionBudget counts it."""
    if not port:
        yield
        return

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"standby\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the log

    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        # Free the port before kopf binds its own liveness endpoint to it.
        server.shutdown()
        server.server_close()
