"""Chunked RenderJobs in the cluster: one Indexed Job of segment pods, then the merge Job.

The chart installed with the local images (built from the working tree) and the test S3 server;
each test renders a small timeline split into two windows (500m of CPU per pod, so both run at
once on the test node's two cores) and checks, through the resource's status and its output:
the merged video holds the single pass's frames; a chunk pod deleted mid-window stops (143) and
its window alone renders again, even with no retries; a window's permanent failure fails the
resource with that window's cause; a change that touches one window re-renders that window only
and gives the same video as a fresh render.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelkube.engine.merge import count_video_frames
from support.reelkube_cluster import (
    ROOT,
    Cluster,
    delete_pod_and_read_exit_code,
    get_resource,
    new_bucket,
    operator_release,
    phase_is,
    tenant_namespace,
    wait_for_resource,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TERMINAL = ("Succeeded", "Failed", "Canceled")
FPS = 25
POD_RESOURCES = {"cpu": "500m", "memory": "1Gi", "ephemeralStorage": "1Gi"}


@pytest.fixture(scope="module")
def bucket(cluster: Cluster) -> str:
    """A fresh bucket holding one slide the timelines pan over."""
    return new_bucket(cluster, "chunks", {"inputs/slide-1.jpg": ROOT / "examples" / "assets" / "slide-1.jpg"})


@pytest.fixture(scope="module")
def release(cluster: Cluster, project_images: dict[str, str], bucket: str) -> Iterator[None]:
    # One operator (no standby) and windows of a few seconds: the tests' timelines are short.
    with operator_release(cluster, bucket, "--set", "operator.replicas=1", "--set", "jobs.minChunkSeconds=1"):
        yield


@pytest.fixture
def space(cluster: Cluster, release: None) -> Iterator[str]:
    """A fresh namespace with the storage credentials the pods read."""
    with tenant_namespace(cluster, "chunks") as name:
        yield name


def chunked(
    name: str,
    namespace: str,
    bucket: str,
    *,
    seconds: float,
    title: str = "Window one",
    cache: bool = True,
    image: str = "inputs/slide-1.jpg",
    size: tuple[int, int] = (320, 180),
    preset: str = "ultrafast",
    retries: int | None = None,
) -> dict[str, Any]:
    """A RenderJob of a slide panned under a title shown in the first second, in two windows."""
    body: dict[str, Any] = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "timeline": {
                "width": size[0],
                "height": size[1],
                "fps": FPS,
                "duration": seconds,
                "tracks": [
                    {
                        "clips": [
                            {
                                "type": "image",
                                "src": f"s3://{bucket}/{image}",
                                "start": 0,
                                "duration": seconds,
                                "fit": "cover",
                                "kenBurns": {"zoomStart": 1.0, "zoomEnd": 1.2, "panX": 0.3},
                            }
                        ]
                    },
                    {"clips": [{"type": "text", "text": title, "start": 0, "duration": 1, "fontSize": 24}]},
                ],
            },
            "output": {"chunks": 2, "chunkCache": cache, "preset": preset, "thumbnail": False},
            "resources": POD_RESOURCES,
            "timeoutSeconds": 600,
        },
    }
    if retries is not None:
        body["spec"]["retries"] = retries
    return body


def finish(cluster: Cluster, namespace: str, name: str, timeout: float = 480) -> dict[str, Any]:
    body = wait_for_resource(cluster, "renderjobs", namespace, name, phase_is(*TERMINAL), timeout=timeout)
    return dict(body["status"])


def download(output: dict[str, Any], path: Path) -> Path:
    response = httpx.get(output["url"], timeout=60)
    assert response.status_code == 200, output["url"]
    assert hashlib.sha256(response.content).hexdigest() == output["sha256"]
    path.write_bytes(response.content)
    return path


def frame_digests(path: Path) -> list[str]:
    """Each decoded frame's MD5 (ffmpeg's framemd5), in order."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [line.rsplit(",", 1)[1].strip() for line in proc.stdout.splitlines() if not line.startswith("#")]


def pod_names(cluster: Cluster, namespace: str, index: int, resource: str) -> set[str]:
    return {pod["metadata"]["name"] for pod in chunk_pods(cluster, namespace, index, resource)}


def chunk_pods(
    cluster: Cluster, namespace: str, index: int, resource: str | None = None
) -> list[dict[str, Any]]:
    selector = f"batch.kubernetes.io/job-completion-index={index}"
    if resource:  # only this resource's windows
        selector += f",reelkube.io/name={resource}"
    return list(cluster.kubectl_json("-n", namespace, "get", "pods", "-l", selector)["items"])


def test_a_chunked_render_succeeds_with_the_single_pass_frames(
    cluster: Cluster, space: str, bucket: str, tmp_path: Path
) -> None:
    seconds = 6
    cluster.apply(chunked("two-windows", space, bucket, seconds=seconds))
    seen: list[dict[str, Any]] = []
    body = wait_for_resource(
        cluster, "renderjobs", space, "two-windows", phase_is(*TERMINAL), timeout=480, seen=seen
    )
    status = body["status"]
    assert status["phase"] == "Succeeded", f"{status.get('reason')}: {status.get('message')}"
    assert status["progress"] == 100 and status["chunkSummary"] == "2/2 chunks"
    entries = status["chunks"]
    assert sorted(entries) == ["0", "1"]
    for entry in entries.values():
        assert entry["state"] == "Succeeded" and entry["attempts"] == 1, entry
        assert entry["framesDone"] == entry["frames"] and entry["cache"] == "miss", entry
    assert sum(e["frames"] for e in entries.values()) == FPS * seconds
    video = download(status["outputs"]["video"], tmp_path / "video.mp4")
    assert count_video_frames(video) == FPS * seconds  # a single pass's frames: 25 fps x 6 s
    midway = {int(s["progress"]) for s in seen if s.get("phase") == "Running" and s.get("progress")}
    print(f"progress seen while Running: {sorted(midway)}")
    jobs = cluster.kubectl_json("-n", space, "get", "jobs")["items"]
    modes = sorted((j["metadata"]["name"].rsplit("-", 1)[1], j["spec"].get("completionMode")) for j in jobs)
    assert modes == [("chunks", "Indexed"), ("merge", "NonIndexed")]
    table = cluster.kubectl("-n", space, "get", "rj", "two-windows").stdout
    assert "CHUNKS" in table and "2/2 chunks" in table, table


@pytest.mark.faults
def test_a_deleted_chunk_pod_reruns_only_its_window(
    cluster: Cluster, space: str, bucket: str, tmp_path: Path
) -> None:
    # Each window must still be rendering when the delete lands, which is a second or two after
    # its first frames show in the status (the pod writes at most once a second). At 640x360 with
    # ultrafast a 15 s window took 1.8 s at 500m of CPU here, and the delete found the window
    # done and uploaded (the pod exited 0: nothing to re-run). 30 s windows of 1280x720 with
    # veryfast take about 15 s of CPU each, over 20 s at 500m.
    # No retries: a deleted pod is not the window's failure, the chunk Job re-runs it uncounted.
    seconds = 60
    body = chunked(
        "lose-a-pod",
        space,
        bucket,
        seconds=seconds,
        cache=False,
        title="Deleted",
        size=(1280, 720),
        preset="veryfast",
        retries=0,
    )
    cluster.apply(body)

    def window_one_renders(body: dict[str, Any]) -> bool:
        entry = ((body.get("status") or {}).get("chunks") or {}).get("1") or {}
        return (entry.get("framesDone") or 0) > 0 and (body.get("status") or {}).get("phase") == "Running"

    seen: list[dict[str, Any]] = []
    wait_for_resource(
        cluster, "renderjobs", space, "lose-a-pod", window_one_renders, timeout=300, interval=0.3, seen=seen
    )
    [victim] = chunk_pods(cluster, space, 1, "lose-a-pod")
    assert victim["status"]["phase"] == "Running", "window 1 finished before it could be deleted"
    pods: dict[int, set[str]] = {index: pod_names(cluster, space, index, "lose-a-pod") for index in (0, 1)}
    frames_then = seen[-1]["chunks"]["1"]
    exit_code = delete_pod_and_read_exit_code(cluster, space, victim["metadata"]["name"])
    # 143: the runner took the SIGTERM mid-window, stopped its ffmpeg and exited for a re-run.
    # 0 would mean the window had already been rendered and stored before the delete landed.
    assert exit_code == "143", (
        f"the deleted pod exited {exit_code or '(not seen)'}; window 1 then: {frames_then}"
    )

    def note_pods_until_done(body: dict[str, Any]) -> bool:
        # The chunk Job and its pods go once the merge is done: note them while they exist.
        for index in (0, 1):
            pods[index] |= pod_names(cluster, space, index, "lose-a-pod")
        return bool(phase_is(*TERMINAL)(body))

    status = dict(
        wait_for_resource(
            cluster, "renderjobs", space, "lose-a-pod", note_pods_until_done, timeout=480, seen=seen
        )["status"]
    )
    assert status["phase"] == "Succeeded", f"{status.get('reason')}: {status.get('message')}"
    # Window 1 ran again in a new pod (its second attempt, though spec.retries is 0: the chunk
    # Job ignores a SIGTERM's exit); window 0 ran once.
    assert pods[1] - {victim["metadata"]["name"]}, pods
    assert len(pods[0]) == 1, pods
    assert status["chunks"]["0"]["attempts"] == 1, status["chunks"]
    assert status["chunks"]["1"]["attempts"] == 2, status["chunks"]
    video = download(status["outputs"]["video"], tmp_path / "video.mp4")
    assert count_video_frames(video) == FPS * seconds
    # One progress for the whole render, summed over the windows by the operator.
    summed = sorted({s["progress"] for s in seen if s.get("phase") == "Running" and s.get("progress")})
    assert [p for p in summed if 0 < p < 95], f"no progress below the merge's share: {summed}"
    running = [s.get("progress") or 0 for s in seen if s.get("phase") == "Running"]
    assert running == sorted(running), running


def test_a_permanent_failure_fails_the_resource_with_the_window_cause(
    cluster: Cluster, space: str, bucket: str
) -> None:
    cluster.apply(chunked("no-slide", space, bucket, seconds=4, image="inputs/no-such-slide.jpg"))
    status = finish(cluster, space, "no-slide", timeout=300)
    assert status["phase"] == "Failed" and status["reason"] == "InputNotFound", status
    assert status["message"].startswith("chunk ") and " of 2: " in status["message"], status["message"]
    assert "no-such-slide.jpg" in status["message"]
    # A permanent exit fails its index at once (FailIndex): no window was tried twice.
    assert all((entry.get("attempts") or 1) == 1 for entry in status["chunks"].values()), status["chunks"]
    assert "Failed" in {entry.get("state") for entry in status["chunks"].values()}


def test_a_change_in_one_window_re_renders_that_window_only(
    cluster: Cluster, space: str, bucket: str, tmp_path: Path
) -> None:
    seconds = 6
    # The same resource rendered fresh (no cache), to compare frames with: in a namespace of its
    # own (the cache is per namespace, so it neither feeds nor reads this one's), beside the
    # first render instead of after the second.
    with tenant_namespace(cluster, "chunks-fresh") as elsewhere:
        started = time.monotonic()
        cluster.apply(chunked("fresh", elsewhere, bucket, seconds=seconds, title="Second title", cache=False))
        cluster.apply(chunked("titled", space, bucket, seconds=seconds, title="First title"))
        status = finish(cluster, space, "titled")
        assert status["phase"] == "Succeeded", status
        assert [status["chunks"][i]["cache"] for i in ("0", "1")] == ["miss", "miss"]
        fresh_status = finish(cluster, elsewhere, "fresh")
        full = time.monotonic() - started
        assert fresh_status["phase"] == "Succeeded", fresh_status
        fresh = download(fresh_status["outputs"]["video"], tmp_path / "fresh.mp4")

    # Deleted and re-applied with a new title, which shows in the first window only.
    cluster.kubectl("-n", space, "delete", "rj", "titled", "--wait=true")
    started = time.monotonic()
    cluster.apply(chunked("titled", space, bucket, seconds=seconds, title="Second title"))
    status = finish(cluster, space, "titled")
    changed = time.monotonic() - started
    assert status["phase"] == "Succeeded", status
    assert [status["chunks"][i]["cache"] for i in ("0", "1")] == ["miss", "hit"], status["chunks"]
    reused = download(status["outputs"]["video"], tmp_path / "reused.mp4")
    # The one-window change gives the fresh render's frames.
    assert frame_digests(reused) == frame_digests(fresh)
    assert len(frame_digests(fresh)) == FPS * seconds
    print(
        f"one-window change: {changed:.1f} s apply-to-Succeeded; the first and the fresh render "
        f"side by side: {full:.1f} s"
    )
    assert get_resource(cluster, "renderjobs", space, "titled") is not None
