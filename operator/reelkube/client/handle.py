"""`Handle`: one submitted resource, to wait on, cancel and download from."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubernetes.client.exceptions import ApiException

from reelkube.api.status import OutputArtifact, Phase, ResourceStatus
from reelkube.client.download import download_outputs
from reelkube.client.errors import RenderCanceled, RenderFailed, ResourceNotFound, WaitTimeout
from reelkube.client.resources import Snapshot

if TYPE_CHECKING:
    import httpx

    from reelkube.client.cluster import Client
    from reelkube.client.uploads import UploadReport

ProgressCallback = Callable[[ResourceStatus], None]

WATCH_WINDOW_SECONDS = 300.0
"""Longest single watch request; a quiet resource is re-watched from where it left off, so a
proxy that drops idle connections costs nothing."""


class Handle:
    """A RenderJob or TTSJob in the cluster; ``last`` is the latest snapshot seen."""

    def __init__(self, client: Client, snapshot: Snapshot) -> None:
        self.client = client
        self.kind = snapshot.kind
        self.name = snapshot.name
        self.namespace = snapshot.namespace
        self.last = snapshot
        self.uploads: UploadReport | None = None
        """What submit uploaded for this resource (None when it was not submitted here)."""

    def __repr__(self) -> str:
        return f"<Handle {self.kind.kind} {self.namespace}/{self.name} {self.last.phase}>"

    @property
    def status(self) -> ResourceStatus:
        return self.last.status

    @property
    def outputs(self) -> dict[str, OutputArtifact]:
        """Outputs by name (video, thumbnail, ...) as of the latest snapshot."""
        return self.last.outputs

    def refresh(self) -> Snapshot:
        """Read the resource again."""
        self.last = self.client.get(self.name, self.namespace, self.kind)
        return self.last

    def wait(self, timeout: float | None = None, on_progress: ProgressCallback | None = None) -> Snapshot:
        """Watch until the resource ends; the final snapshot when it Succeeded.

        ``on_progress`` is called with each new status (the current one first). Raises
        RenderFailed, RenderCanceled, WaitTimeout (the render keeps going) or ResourceNotFound
        (deleted meanwhile).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        reported: list[dict[str, object]] = []

        def report(snapshot: Snapshot) -> None:
            self.last = snapshot
            raw = snapshot.body.get("status") or {}
            if on_progress is not None and (not reported or reported[-1] != raw):
                reported[:] = [raw]
                on_progress(snapshot.status)

        current = self.refresh()
        report(current)
        while not current.done:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise WaitTimeout(self.name, float(timeout or 0), current.status)
            window = WATCH_WINDOW_SECONDS if remaining is None else min(WATCH_WINDOW_SECONDS, remaining)
            try:
                for event, snapshot in self.client.watch(
                    namespace=self.namespace,
                    kinds=[self.kind],
                    name=self.name,
                    resource_version=current.resource_version,
                    timeout=window,
                ):
                    if event == "DELETED":
                        raise ResourceNotFound(f"{self.kind.kind} {self.namespace}/{self.name} was deleted")
                    current = snapshot
                    report(current)
                    if current.done:
                        break
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: the version is too old to watch from; read anew
                    raise
                current = self.refresh()
                report(current)
        return self._outcome(current)

    async def wait_async(
        self, timeout: float | None = None, on_progress: ProgressCallback | None = None
    ) -> Snapshot:
        """:meth:`wait` for asyncio programs: the same watch, run in a worker thread
        (``asyncio.to_thread``), so the event loop goes on; ``on_progress`` is called from that
        thread. Many at once: ``await asyncio.gather(*(h.wait_async() for h in handles))``.
        Cancelling the awaiting task stops the awaiting, not the render, and the thread ends
        with its current watch request (at most ``WATCH_WINDOW_SECONDS``, or ``timeout``)."""
        import asyncio

        return await asyncio.to_thread(self.wait, timeout, on_progress)

    def _outcome(self, snapshot: Snapshot) -> Snapshot:
        status = snapshot.status
        if status.phase == Phase.FAILED:
            raise RenderFailed(self.name, status)
        if status.phase == Phase.CANCELED:
            raise RenderCanceled(self.name, status)
        return snapshot

    def cancel(self, *, wait: bool = False, timeout: float | None = None) -> Snapshot:
        """Ask the operator to stop the resource (``spec.cancel: true``); with ``wait``, watch
        until it has ended, however it ended (a render may finish before the cancel lands)."""
        self.last = self.client.cancel(self.name, self.namespace, self.kind)
        if wait:
            with contextlib.suppress(RenderCanceled, RenderFailed):
                self.wait(timeout)
        return self.last

    def download(self, directory: Path | str, *, http: httpx.Client | None = None) -> dict[str, Path]:
        """Download every output into ``directory``, each checked against the size and SHA-256
        in the status (OutputMismatch otherwise); the saved paths by output name. A URL whose
        host is cluster-internal is fetched through the API server (Client.reach)."""
        if not self.last.done:
            self.refresh()
        return download_outputs(self.outputs, Path(directory), http=http, reach=self.client.reach)
