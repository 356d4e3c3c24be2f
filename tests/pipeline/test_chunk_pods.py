"""The segment and merge pods on this machine, as the Indexed Job and the merge Job run them:
`reelkube job` with the operator's environment, real ffmpeg, the real S3 test server. The status
writer is a recorder (the cluster test covers the API server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.pod_contract import CHUNK_COUNT_ENV, CHUNK_INDEX_ENV, CHUNK_ROLE_ENV
from reelkube.engine.merge import count_video_frames
from reelkube.pipeline.pod import run_in_pod
from support.s3 import S3Server

pytestmark = pytest.mark.slow

FPS = 10
SECONDS = 4


def chunked_job(title: str, *, cache: bool = True, name: str = "chunky") -> dict[str, Any]:
    """A 4 s timeline in 2 windows whose title shows in the first second only."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": "media", "uid": "c0ffee00-0000-0000-0000-000000000000"},
        "spec": {
            "timeline": {
                "width": 160,
                "height": 96,
                "fps": FPS,
                "duration": SECONDS,
                "tracks": [
                    {"clips": [{"type": "color", "color": "#336699", "start": 0, "duration": SECONDS}]},
                    {"clips": [{"type": "text", "text": title, "start": 0, "duration": 1, "fontSize": 20}]},
                ],
            },
            "output": {"preset": "ultrafast", "chunks": 2, "chunkCache": cache, "thumbnail": False},
        },
    }


class Recorder:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def __call__(self, patch: dict[str, Any]) -> None:
        self.patches.append(json.loads(json.dumps(patch)))

    def chunk(self, index: int) -> dict[str, Any]:
        """The pod's entry as the merge patches build it up."""
        entry: dict[str, Any] = {}
        for patch in self.patches:
            entry.update((patch.get("chunks") or {}).get(str(index)) or {})
        return entry


def run_chunked(
    body: dict[str, Any], tmp_path: Path, server: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Recorder], Recorder]:
    """Both windows, then the merge, each in a fresh work dir; their status recorders."""
    body["spec"]["storage"] = {"bucket": server.bucket, "prefix": prefix, "endpointUrl": server.endpoint_url}
    tmp_path.mkdir(parents=True, exist_ok=True)
    resource = tmp_path / "resource.json"
    resource.write_text(json.dumps(body))
    monkeypatch.setenv(CHUNK_COUNT_ENV, "2")
    segments = []
    for index in range(2):
        monkeypatch.setenv(CHUNK_ROLE_ENV, "segment")
        monkeypatch.setenv(CHUNK_INDEX_ENV, str(index))
        recorder = Recorder()
        code = run_in_pod(resource, work_dir=tmp_path / f"seg{index}", writer=recorder, min_interval=0.05)
        assert code == 0, recorder.patches
        segments.append(recorder)
    monkeypatch.setenv(CHUNK_ROLE_ENV, "merge")
    monkeypatch.delenv(CHUNK_INDEX_ENV)
    merge = Recorder()
    assert run_in_pod(resource, work_dir=tmp_path / "merge", writer=merge, min_interval=0.05) == 0, (
        merge.patches
    )
    return segments, merge


def test_windows_render_merge_and_reuse_the_cache(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments, merge = run_chunked(chunked_job("First"), tmp_path / "a", s3_server, "chunks", monkeypatch)
    for index, recorder in enumerate(segments):
        entry = recorder.chunk(index)
        assert entry["cache"] == "miss" and entry["framesDone"] == entry["frames"] == FPS * SECONDS // 2
        # A segment pod writes its own entry only, never the render's progress.
        assert not any("progress" in patch or "outputs" in patch for patch in recorder.patches)
        assert all(set(patch.get("chunks", {})) <= {str(index)} for patch in recorder.patches)
    final = merge.patches[-1]
    assert final["step"] == "done" and final["progress"] == 100
    progresses = [p["progress"] for p in merge.patches if "progress" in p]
    assert progresses == sorted(progresses) and min(progresses) >= 95
    video = final["outputs"]["video"]
    local = tmp_path / "first.mp4"
    s3_server.client().download_file(s3_server.bucket, video["uri"].split("/", 3)[3], str(local))
    assert count_video_frames(local) == FPS * SECONDS
    cache = s3_server.list_keys("chunks/media/_chunk-cache/")
    assert len(cache) == 2

    # The title changes: only the first window's plan changes, the second is reused.
    segments, merge = run_chunked(chunked_job("Second"), tmp_path / "b", s3_server, "chunks", monkeypatch)
    assert [r.chunk(i)["cache"] for i, r in enumerate(segments)] == ["miss", "hit"]
    assert len(s3_server.list_keys("chunks/media/_chunk-cache/")) == 3
    assert merge.patches[-1]["step"] == "done"


def test_without_the_cache_segments_are_deleted_after_the_merge(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments, merge = run_chunked(
        chunked_job("Off", cache=False), tmp_path, s3_server, "nocache", monkeypatch
    )
    assert [r.chunk(i)["cache"] for i, r in enumerate(segments)] == ["off", "off"]
    keys = s3_server.list_keys("nocache/")
    assert not [k for k in keys if "segment-" in k or "_chunk-cache" in k], keys
    assert any(k.endswith(".mp4") for k in keys)  # the merged video
