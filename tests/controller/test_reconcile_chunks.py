"""The reconciler carrying a chunked render through its two Jobs against an in-memory client (no
cluster): the chunk Job first, the merge Job (owned by the chunk Job) once every window
succeeded, the merge's outcome as the resource's, and the chunk pods' frames summed into one
progress on a live change."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from reelkube.api.kinds import ResourceKind
from reelkube.api.status import Phase
from reelkube.controller.chunk_status import CHUNK_PROGRESS_INTERVAL_SECONDS
from reelkube.controller.metrics import OperatorMetrics
from reelkube.controller.reconcile import Reconciler
from reelkube.controller.settings import OperatorSettings
from support.resources import RENDER_BODY, chunk_pod, condition, pod, terminated


class JobsClient:
    """Jobs by name, their pods, and the resource's status as the patches leave it."""

    def __init__(self) -> None:
        self.body = copy.deepcopy(RENDER_BODY)
        self.body["spec"]["output"]["chunks"] = 2
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.created: list[dict[str, Any]] = []
        self.patches: list[dict[str, Any]] = []

    def get_resource(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.body)

    def list_resources(self, kind: ResourceKind, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return []

    def list_managed_jobs(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return list(self.jobs.values())

    def list_namespace_annotations(self) -> dict[str, dict[str, str]]:
        return {}

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.jobs.get(name))

    def list_job_pods(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.pods.get(job_name, []))

    def delete_job(self, namespace: str, name: str) -> bool:
        return self.jobs.pop(name, None) is not None

    def create(self, manifest: Mapping[str, Any]) -> bool:
        self.created.append(copy.deepcopy(dict(manifest)))
        if manifest["kind"] != "Job":
            return True
        name = manifest["metadata"]["name"]
        if name in self.jobs:
            return False
        made = copy.deepcopy(dict(manifest))
        made["metadata"]["uid"] = f"uid-of-{name}"
        made["status"] = {}
        self.jobs[name] = made
        return True

    def patch_status(self, kind: ResourceKind, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self.patches.append(copy.deepcopy(dict(patch)))
        status = self.body.setdefault("status", {})
        for key, value in patch.items():
            if key == "chunks" and value is not None:
                merged = status.setdefault("chunks", {})
                for index, entry in value.items():
                    merged[index] = {**merged.get(index, {}), **entry}
            elif value is None:
                status.pop(key, None)
            else:
                status[key] = value


def test_a_chunked_render_runs_its_windows_then_the_merge() -> None:
    client = JobsClient()
    rec = Reconciler(client, OperatorSettings(), OperatorMetrics())  # type: ignore[arg-type]
    try:
        assert rec.reconcile("RenderJob", "media", "summer-reel", trigger="create") is Phase.QUEUED
        [chunk_name] = client.jobs
        assert chunk_name.endswith("-chunks") and client.body["status"]["jobName"] == chunk_name
        assert client.jobs[chunk_name]["spec"]["completionMode"] == "Indexed"

        # Both windows done: a Job event starts the merge, on the sync trigger.
        client.jobs[chunk_name]["status"] = {
            "conditions": [condition("Complete")],
            "completedIndexes": "0-1",
            "succeeded": 2,
            "startTime": "2025-01-01T00:00:05Z",
        }
        client.pods[chunk_name] = [
            chunk_pod("c0", 0, "Succeeded", terminated(0, reason="Completed")),
            chunk_pod("c1", 1, "Succeeded", terminated(0, reason="Completed"), failures=1),
        ]
        assert rec.sync("RenderJob", "media", "summer-reel", trigger="job") is Phase.RUNNING
        merge_name = next(name for name in client.jobs if name.endswith("-merge"))
        owners = client.jobs[merge_name]["metadata"]["ownerReferences"]
        assert owners[1]["uid"] == f"uid-of-{chunk_name}"
        status = client.body["status"]
        assert (status["reason"], status["chunkSummary"]) == ("Merging", "2/2 chunks")
        assert status["chunks"]["1"] == {"index": 1, "state": "Succeeded", "attempts": 2}
        # A second event while the merge exists observes it; nothing is created twice.
        rec.sync("RenderJob", "media", "summer-reel", trigger="job")
        assert [m["metadata"]["name"] for m in client.created if m["kind"] == "Job"] == [
            chunk_name,
            merge_name,
        ]

        client.jobs[merge_name]["status"] = {"conditions": [condition("Complete")], "succeeded": 1}
        client.pods[merge_name] = [pod("m1", "Succeeded", terminated(0, reason="Completed"))]
        assert rec.sync("RenderJob", "media", "summer-reel", trigger="job") is Phase.SUCCEEDED
        assert client.body["status"]["attempts"] == 4  # three chunk pods, one merge pod
    finally:
        rec.close()


def test_a_live_change_sums_the_windows_into_one_progress() -> None:
    client = JobsClient()
    rec = Reconciler(client, OperatorSettings(), OperatorMetrics())  # type: ignore[arg-type]
    seen = copy.deepcopy(client.body)
    seen["status"] = {
        "phase": "Running",
        "chunkCount": 2,
        "chunks": {
            "0": {"index": 0, "framesDone": 75, "frames": 100},
            "1": {"index": 1, "framesDone": 25, "frames": 100},
        },
    }
    try:
        rec.watch_live("RenderJob", "media", "summer-reel", seen)
    finally:
        rec.close()
    assert client.patches == [{"progress": 47, "currentFrame": 100, "totalFrames": 200}]


def test_summed_progress_is_written_at_most_once_a_second_but_the_last_share_at_once() -> None:
    """Each chunk pod's write is a watch event: the sum is written once a second, not on every
    event (two windows wrote 1.6 patches a second, some twice the same), except the write that
    completes the windows' share, which never waits."""
    client = JobsClient()
    rec = Reconciler(client, OperatorSettings(), OperatorMetrics())  # type: ignore[arg-type]

    def seen(first: int, second: int, **written: int) -> dict[str, Any]:
        body = copy.deepcopy(client.body)
        body["status"] = {
            **written,
            "phase": "Running",
            "chunkCount": 2,
            "chunks": {
                "0": {"index": 0, "framesDone": first, "frames": 100},
                "1": {"index": 1, "framesDone": second, "frames": 100},
            },
        }
        return body

    try:
        rec.watch_live("RenderJob", "media", "summer-reel", seen(10, 10))
        rec.watch_live("RenderJob", "media", "summer-reel", seen(20, 10))  # within the second
        assert [p.get("currentFrame") for p in client.patches] == [20]
        rec.watch_live("RenderJob", "media", "summer-reel", seen(100, 100))  # the windows' share
        assert [p.get("currentFrame") for p in client.patches] == [20, 200]
        time.sleep(CHUNK_PROGRESS_INTERVAL_SECONDS)
        # A second later, an event whose sum is behind what was written: nothing to write.
        rec.watch_live("RenderJob", "media", "summer-reel", seen(30, 20, progress=95, currentFrame=200))
        assert len(client.patches) == 2
        rec.watch_live("RenderJob", "media", "summer-reel", seen(40, 20))  # due again: written
        assert [p.get("currentFrame") for p in client.patches] == [20, 200, 60]
    finally:
        rec.close()
