"""The Python client: submit RenderJobs and TTSJobs, wait on them, cancel, and download outputs.

    from reelkube.client import Client

    client = Client.from_kubeconfig()
    handle = client.submit("examples/captioned-reel.yaml")
    handle.wait(timeout=600, on_progress=lambda s: print(s.phase, s.step, s.progress))
    print(handle.download("out"))

It talks to the API server with the user's credentials and never imports the operator
(:mod:`reelkube.controller`): the two sit side by side above the API models, whose typed status
(:class:`~reelkube.api.status.ResourceStatus`) is what the client hands back. Synchronous; a
wait is one watch request at a time, so threads serve many waits at once, and asyncio programs
``await handle.wait_async()`` (the same wait in a worker thread).

``submit`` uploads the files a manifest names beside it (:mod:`reelkube.client.uploads`), and
``download`` reaches outputs behind a cluster-internal host through the API server
(:mod:`reelkube.client.port_forward`).
"""

from __future__ import annotations

from reelkube.client.cluster import Client, WatchEvent
from reelkube.client.errors import (
    ClientError,
    OutputMismatch,
    RenderCanceled,
    RenderFailed,
    ResourceNotFound,
    WaitTimeout,
)
from reelkube.client.handle import Handle, ProgressCallback
from reelkube.client.resources import BATCH_LABEL, Snapshot, queue_position

Timeout = WaitTimeout
"""The name the client's design uses for a wait that ran out of time."""

__all__ = [
    "BATCH_LABEL",
    "Client",
    "ClientError",
    "Handle",
    "OutputMismatch",
    "ProgressCallback",
    "RenderCanceled",
    "RenderFailed",
    "ResourceNotFound",
    "Snapshot",
    "Timeout",
    "WaitTimeout",
    "WatchEvent",
    "queue_position",
]
