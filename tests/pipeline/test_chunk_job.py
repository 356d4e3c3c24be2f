"""The chunk and merge pods' plumbing: what the operator tells them, where segments are stored
(the real S3 test server), the cache lifetime, and the merge's share of the progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reelkube.api.kinds import RENDER_JOB
from reelkube.api.pod_contract import (
    CHUNK_CACHE_TTL_ENV,
    CHUNK_COUNT_ENV,
    CHUNK_INDEX_ENV,
    CHUNK_RENDER_SHARE,
)
from reelkube.api.status import Step
from reelkube.errors import SpecError, StorageFailed
from reelkube.pipeline.chunk_job import ChunkEnv, SegmentStore, merge_progress_kind
from reelkube.storage.keys import segment_object_key
from support.resources import render_job
from support.s3 import S3Server

DIGEST = "ab" * 32


def test_chunk_env_reads_what_the_operator_set() -> None:
    env = {CHUNK_COUNT_ENV: "4", CHUNK_INDEX_ENV: "3", CHUNK_CACHE_TTL_ENV: "60"}
    assert ChunkEnv.from_env("segment", env) == ChunkEnv("segment", 4, 3, 60)
    assert ChunkEnv.from_env("merge", {CHUNK_COUNT_ENV: "4"}).index == 0


@pytest.mark.parametrize(
    ("role", "env", "says"),
    [
        ("segment", {CHUNK_COUNT_ENV: "4"}, "JOB_COMPLETION_INDEX"),
        ("segment", {CHUNK_COUNT_ENV: "4", CHUNK_INDEX_ENV: "4"}, "out of range"),
        ("merge", {CHUNK_COUNT_ENV: "two"}, "REELKUBE_CHUNK_COUNT"),
        ("render", {CHUNK_COUNT_ENV: "2"}, "unknown chunk role"),
    ],
)
def test_chunk_env_refuses_what_it_cannot_use(role: str, env: dict[str, str], says: str) -> None:
    with pytest.raises(SpecError, match=says):
        ChunkEnv.from_env(role, env)


def test_the_merge_reports_the_last_percent() -> None:
    merge = merge_progress_kind(RENDER_JOB)
    assert merge.overall_percent(Step.DOWNLOADING, 0) == CHUNK_RENDER_SHARE
    assert CHUNK_RENDER_SHARE < merge.overall_percent(Step.UPLOADING, 50) < 100
    assert merge.overall_percent(Step.DONE, 0) == 100
    assert RENDER_JOB.overall_percent(Step.DOWNLOADING, 0) == 0  # the kind itself is untouched


def test_segment_keys() -> None:
    cached = segment_object_key("reelkube", "media", digest=DIGEST, cached=True)
    assert cached == f"reelkube/media/_chunk-cache/{DIGEST}.mp4"
    own = segment_object_key(
        "reelkube", "media", digest=DIGEST, cached=False, name="reel", uid="1234567890", index=3
    )
    assert own == "reelkube/media/reel-12345678/segment-003.mp4"
    with pytest.raises(SpecError, match="sha256"):
        segment_object_key("reelkube", "media", digest="../x", cached=True)


def store(server: S3Server, *, cached: bool, ttl: int = 3600) -> SegmentStore:
    return SegmentStore(server.storage_spec(), render_job(), cached=cached, ttl_seconds=ttl)


def test_a_cached_segment_is_found_fetched_and_expires(s3_server: S3Server, tmp_path: Path) -> None:
    segments = store(s3_server, cached=True)
    source = tmp_path / "segment.mp4"
    source.write_bytes(b"segment bytes")
    assert segments.lookup(DIGEST, 0) is False
    segments.put(source, DIGEST, 0)
    assert s3_server.list_keys(segments.storage.prefix) == [
        f"{segments.storage.prefix}/media/_chunk-cache/{DIGEST}.mp4"
    ]
    assert segments.lookup(DIGEST, 5) is True  # the index does not matter in the cache
    fetched = segments.fetch(DIGEST, 0, tmp_path / "back.mp4")
    assert fetched.read_bytes() == b"segment bytes"
    # Past the lifetime: a miss, and the entry is deleted by the pod that saw it.
    later = datetime.now(UTC) + timedelta(seconds=3601)
    assert segments.lookup(DIGEST, 0, now=later) is False
    assert s3_server.list_keys(segments.storage.prefix) == []


def test_without_the_cache_segments_live_beside_the_outputs(s3_server: S3Server, tmp_path: Path) -> None:
    segments = store(s3_server, cached=False)
    source = tmp_path / "segment.mp4"
    source.write_bytes(b"x")
    segments.put(source, DIGEST, 2)
    assert segments.lookup(DIGEST, 2) is False  # never reused
    [key] = s3_server.list_keys(segments.storage.prefix)
    assert key.endswith("/media/summer-reel-" + render_job().metadata.uid[:8] + "/segment-002.mp4")
    segments.delete(DIGEST, 2)
    assert s3_server.list_keys(segments.storage.prefix) == []
    with pytest.raises(StorageFailed, match="segment 2 .* cannot be read for the merge"):
        segments.fetch(DIGEST, 2, tmp_path / "gone.mp4")
