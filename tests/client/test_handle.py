"""Handle.wait over a scripted watch: typed outcomes, the progress callback, re-watching after a
quiet window or a 410, and the timeout. The cluster tests run the same against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from reelkube.api.kinds import RENDER_JOB, ResourceKind
from reelkube.api.status import Phase, ResourceStatus
from reelkube.client import (
    Handle,
    RenderCanceled,
    RenderFailed,
    ResourceNotFound,
    Snapshot,
    WaitTimeout,
)
from reelkube.client.waiting import wait_all


def snapshot(version: int, **status: Any) -> Snapshot:
    body = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "reel", "namespace": "media", "resourceVersion": str(version)},
        "spec": {},
        "status": status,
    }
    return Snapshot(RENDER_JOB, body)


class ScriptedClient:
    """Answers get() with ``current`` and each watch() with the next scripted window."""

    def __init__(self, current: Snapshot, windows: list[list[tuple[str, Snapshot]] | Exception]) -> None:
        self.current = current
        self.windows = windows
        self.watched_from: list[str | None] = []

    def get(self, name: str, namespace: str | None = None, kind: ResourceKind | None = None) -> Snapshot:
        return self.current

    def watch(self, *, resource_version: str | None = None, **options: Any) -> Iterator[tuple[str, Snapshot]]:
        self.watched_from.append(resource_version)
        if not self.windows:
            return
        window = self.windows.pop(0)
        if isinstance(window, Exception):
            raise window
        for event in window:
            self.current = event[1]
            yield event


def handle(client: ScriptedClient) -> Handle:
    return Handle(client, client.current)  # type: ignore[arg-type]


def running(version: int, progress: int) -> Snapshot:
    return snapshot(version, phase="Running", step="rendering", progress=progress)


def test_wait_reports_each_status_once_and_returns_the_success() -> None:
    client = ScriptedClient(
        snapshot(1, phase="Queued"),
        [
            [("MODIFIED", running(2, 10)), ("MODIFIED", running(3, 10))],  # same status twice
            [],  # a quiet window ends: the watch resumes where it was
            [("MODIFIED", running(4, 60)), ("MODIFIED", snapshot(5, phase="Succeeded", progress=100))],
        ],
    )
    seen: list[ResourceStatus] = []
    final = handle(client).wait(timeout=30, on_progress=seen.append)
    assert final.phase == Phase.SUCCEEDED
    assert [(s.phase, s.progress) for s in seen] == [
        (Phase.QUEUED, None),
        (Phase.RUNNING, 10),
        (Phase.RUNNING, 60),
        (Phase.SUCCEEDED, 100),
    ]
    assert client.watched_from == ["1", "3", "3"]


def test_a_failure_carries_reason_and_message() -> None:
    client = ScriptedClient(
        running(1, 5),
        [[("MODIFIED", snapshot(2, phase="Failed", reason="InputNotFound", message="bg.jpg: 404"))]],
    )
    with pytest.raises(RenderFailed) as caught:
        handle(client).wait(timeout=30)
    assert (caught.value.reason, caught.value.message) == ("InputNotFound", "bg.jpg: 404")


def test_canceled_and_deleted() -> None:
    canceled = ScriptedClient(
        running(1, 5), [[("MODIFIED", snapshot(2, phase="Canceled", reason="CanceledByUser"))]]
    )
    with pytest.raises(RenderCanceled) as caught:
        handle(canceled).wait(timeout=30)
    assert caught.value.reason == "CanceledByUser"
    deleted = ScriptedClient(running(1, 5), [[("DELETED", running(2, 5))]])
    with pytest.raises(ResourceNotFound):
        handle(deleted).wait(timeout=30)


def test_a_gone_version_is_read_again() -> None:
    client = ScriptedClient(running(1, 5), [ApiException(status=410)])
    client.windows.append([("MODIFIED", snapshot(9, phase="Succeeded"))])
    assert handle(client).wait(timeout=30).phase == Phase.SUCCEEDED


def test_other_api_errors_are_raised() -> None:
    client = ScriptedClient(running(1, 5), [ApiException(status=403)])
    with pytest.raises(ApiException):
        handle(client).wait(timeout=30)


def test_the_timeout_leaves_the_render_going() -> None:
    client = ScriptedClient(running(1, 5), [])
    with pytest.raises(WaitTimeout) as caught:
        handle(client).wait(timeout=0.05)
    assert caught.value.status is not None and caught.value.status.progress == 5


def test_wait_all_gathers_every_outcome_in_order() -> None:
    ok = ScriptedClient(running(1, 5), [[("MODIFIED", snapshot(2, phase="Succeeded"))]])
    bad = ScriptedClient(running(1, 5), [[("MODIFIED", snapshot(2, phase="Failed", reason="X"))]])
    slow = ScriptedClient(running(1, 5), [])
    outcomes = wait_all([handle(ok), handle(bad), handle(slow)], timeout=0.2)
    assert [o.result for o in outcomes] == ["Succeeded", "Failed", "Timeout"]
    assert isinstance(outcomes[1].error, RenderFailed)
