"""Progress into the resource's status, written by the render pod itself (the pod passes a
:class:`ProgressReporter` to the pipeline as both its progress sink and its status).

Mechanism (chosen over a pod-to-operator channel): the pod patches its **own** resource's
``status`` subresource through the API server (JSON merge patch of ``step``, ``progress``,
``currentFrame``, ``totalFrames``, ``etaSeconds``, ``encoder``, ``outputs``), using a
ServiceAccount made for this one resource, whose Role allows only ``get`` and ``patch`` on
``<plural>/status`` with ``resourceNames: [<its name>]``.

- Least privilege: a pod can touch nothing but its own resource's status.
- Survives operator restarts: the operator is not in the data path; progress keeps flowing
  while it is down.
- Scale: at 1,000 concurrent renders it costs 1,000 x (ServiceAccount + Role + RoleBinding),
  small objects garbage-collected with their resource, and at most 1,000 writes/s spread over
  the API server (one per pod per second at most), with no fan-in at the operator. Whether the
  API server can take that many is a matter of its CPU (each custom-resource status patch costs
  it a few milliseconds); the pacing keeps it answering when it cannot.

Writes go out on a background thread, so the engine's progress callback never waits on the
network, at most one per second, and the latest values win. The spacing widens while the API
server answers slowly or throttles (:class:`reelkube.pipeline.pacing.WritePacer`): past what the
API server can take, every pod writing once a second would only queue every write behind the
others. An output ready before the end (a narrated render's voice-over) is published at once, in
the pipeline's own thread (:meth:`ProgressReporter.publish`), so the operator can announce it
while the video still renders. The final state (outputs, ``progress: 100``) is always flushed,
with retries. Outside a cluster (no service account token) the same updates are logged instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reelkube.api.kinds import ResourceKind
from reelkube.api.status import Step
from reelkube.errors import ReelkubeError
from reelkube.pipeline.pacing import WritePacer
from reelkube.progress_events import ProgressEvent

log = logging.getLogger(__name__)

StatusWriter = Callable[[dict[str, Any]], None]
TOKEN_PATH = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
FINAL_ATTEMPTS = 10
FINAL_RETRY_CAP_SECONDS = 8.0


class StatusWriteFailed(ReelkubeError):
    reason = "StatusWriteFailed"


class StatusWriteThrottled(Exception):
    """The API server refused a write for load (HTTP 429); ``retry_after`` in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"throttled by the API server (retry after {retry_after:g} s)")
        self.retry_after = retry_after


def retry_after_seconds(headers: Any) -> float:
    """The ``Retry-After`` header as seconds (0 when absent or not a number of seconds)."""
    try:
        return max(0.0, float((headers or {}).get("Retry-After", 0)))
    except (TypeError, ValueError):
        return 0.0


def in_cluster_writer(adapter: ResourceKind, namespace: str, name: str) -> StatusWriter | None:
    """A writer patching the resource's status with the pod's token; None outside a cluster."""
    if not TOKEN_PATH.exists():
        return None
    from kubernetes import client, config  # only needed in a pod

    config.load_incluster_config()
    api = client.CustomObjectsApi()

    def write(patch: dict[str, Any]) -> None:
        try:
            api.patch_namespaced_custom_object_status(
                adapter.group,
                adapter.version,
                namespace,
                adapter.plural,
                name,
                {"status": patch},
                _content_type="application/merge-patch+json",
                _preload_content=False,
            )
        except client.ApiException as exc:
            if exc.status == 429:
                raise StatusWriteThrottled(retry_after_seconds(exc.headers)) from exc
            raise

    return write


class ProgressReporter:
    """A :data:`reelkube.progress_events.ProgressCallback` that feeds the resource's status.

    ``progress`` is the overall percent (the adapter weighs the steps), never decreasing, and
    held at 99 until the outputs are written, so 100 means done. ``min_interval`` is the
    spacing between writes while the API server keeps up (see :class:`WritePacer`).
    """

    def __init__(
        self,
        adapter: ResourceKind,
        write: StatusWriter | None,
        *,
        label: str,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        retry_delay: float = 0.5,
        pacer: WritePacer | None = None,
    ) -> None:
        self._adapter = adapter
        self._write = write
        self._label = label
        self.pacer = pacer or WritePacer(base=min_interval)
        self._clock = clock
        self._retry_delay = retry_delay
        self._lock = threading.Condition()
        # Held while a patch is taken and written: a publish() in the pipeline's thread and the
        # background writer never have two patches in flight, so an older patch cannot land
        # after a newer one and take the status back.
        self._emit_lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._percent = 0.0
        self._last_advance: tuple[Step, int, int | None] | None = None
        self._last_write = -float("inf")
        self._closed = False
        self.writes: list[dict[str, Any]] = []
        """Every patch written or logged, in order (for tests and the final log line)."""
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()

    # --- inputs ---------------------------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        percent = self._adapter.overall_percent(event.step, event.percent)
        fields: dict[str, Any] = {"step": event.step.value}
        with self._lock:
            self._percent = max(self._percent, percent)
            fields["progress"] = 100 if event.step == Step.DONE else min(99, int(self._percent))
            if event.frame is not None:
                fields["currentFrame"] = event.frame
            if event.total_frames is not None:
                fields["totalFrames"] = event.total_frames
            if event.eta_seconds is not None:
                fields["etaSeconds"] = max(0, round(event.eta_seconds))
            if event.encoder is not None:
                fields["encoder"] = event.encoder
            # The operator judges a stall by this time: it moves only when the work does.
            advance = (event.step, fields["progress"], event.frame)
            if advance != self._last_advance:
                self._last_advance = advance
                fields["lastProgressTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._pending.update(fields)
            self._lock.notify()

    def update(self, **fields: Any) -> None:
        """Queue other status fields (``encoder``, ``outputs``, ...)."""
        with self._lock:
            self._pending.update(fields)
            self._lock.notify()

    def publish(self, **fields: Any) -> bool:
        """Write ``fields`` (with whatever progress is pending) now, before returning, outside
        the pacing: for what the operator should know while the work goes on (an output already
        uploaded). One attempt: when it fails, the fields stay pending and go out with the next
        paced write (or the final one), as any progress does. True when the write succeeded."""
        with self._emit_lock:
            with self._lock:
                if self._closed:
                    self._pending.update(fields)
                    return False
                patch = {**self._pending, **fields}
                self._pending = {}
                self._last_write = self._clock()
            sent = self._clock()
            try:
                self._emit(patch)
            except Exception as exc:  # noqa: BLE001 - kept pending, retried by the writer thread
                log.warning("event=publish_failed resource=%s error=%s", self._label, exc)
                retry_after = exc.retry_after if isinstance(exc, StatusWriteThrottled) else 0.0
                with self._lock:
                    self._pending = {**patch, **self._pending}
                    self.pacer.record(self._clock() - sent, throttled=True, retry_after=retry_after)
                    self._lock.notify()
                return False
            with self._lock:
                self.pacer.record(self._clock() - sent)
            return True

    # --- output ---------------------------------------------------------------------------

    def _emit(self, patch: dict[str, Any]) -> None:
        self.writes.append(patch)
        if self._write is None:
            log.info(
                "event=progress resource=%s %s",
                self._label,
                " ".join(f"{k}={v}" for k, v in patch.items() if k != "outputs"),
            )
            return
        # One line per write (at most one a second), logged just before it: the operator
        # benchmark measures write-to-watch latency from these lines' timestamps.
        log.info(
            "event=status_write resource=%s step=%s progress=%s",
            self._label,
            patch.get("step"),
            patch.get("progress"),
        )
        self._write(patch)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                wait = self._last_write + self.pacer.interval - self._clock()
                if wait > 0:
                    # Let more updates coalesce; close() may take over meanwhile.
                    self._lock.wait(wait)
                    continue
            with self._emit_lock:
                with self._lock:
                    if self._closed:
                        return  # close() writes what is pending
                    if not self._pending:
                        continue  # a publish() wrote it meanwhile
                    patch, self._pending = self._pending, {}
                    self._last_write = self._clock()
                sent = self._clock()
                try:
                    self._emit(patch)
                except Exception as exc:  # noqa: BLE001 - live progress is best effort
                    log.warning("event=progress_write_failed resource=%s error=%s", self._label, exc)
                    retry_after = exc.retry_after if isinstance(exc, StatusWriteThrottled) else 0.0
                    with self._lock:
                        self._pending = {**patch, **self._pending}
                        self.pacer.record(self._clock() - sent, throttled=True, retry_after=retry_after)
                    continue
                with self._lock:
                    self.pacer.record(self._clock() - sent)

    def close(self, *, final: dict[str, Any] | None = None) -> None:
        """Stop the writer thread and flush everything pending (plus ``final``), with retries.

        Raises StatusWriteFailed when the final state cannot be written: a render whose outputs
        never reach the status must not count as a success.
        """
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)
        with self._lock:
            patch = {**self._pending, **(final or {})}
            self._pending = {}
        if not patch:
            return
        delay = self._retry_delay
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            try:
                self._emit(patch)
                return
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                if attempt == FINAL_ATTEMPTS:
                    raise StatusWriteFailed(f"could not write the final status: {exc}") from exc
                log.warning(
                    "event=final_status_retry resource=%s attempt=%d error=%s", self._label, attempt, exc
                )
                retry_after = exc.retry_after if isinstance(exc, StatusWriteThrottled) else 0.0
                time.sleep(max(delay, retry_after))
                delay = min(delay * 2, FINAL_RETRY_CAP_SECONDS)
