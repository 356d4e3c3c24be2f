"""A chunked render's Jobs and status: the Indexed chunk Job, the merge Job, the chunk count the
operator picks, what the Job and its pods say per window, and the status patches (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from reelkube.api.pod_contract import (
    CHUNK_CACHE_TTL_ENV,
    CHUNK_COUNT_ENV,
    CHUNK_INDEX_LABEL,
    CHUNK_RENDER_SHARE,
    CHUNK_ROLE_ENV,
    EXIT_BAD_INPUT,
    EXIT_CANCELED,
    EXIT_KILLED,
)
from reelkube.api.status import ResourceStatus
from reelkube.controller.chunk_status import chunk_progress_update, chunk_update
from reelkube.controller.job_manifests import (
    build_chunk_job,
    build_job,
    build_merge_job,
    build_render_job,
    child_name,
    chunk_count_for,
    first_job_name,
    job_name_with,
    merge_job_name,
)
from reelkube.controller.job_observation import ChunkView, chunk_view, parse_indexes
from reelkube.controller.settings import OperatorSettings, settings_from_env
from support.resources import UID, chunk_pod, job, render_body, render_job, running, terminated, tts_job

SETTINGS = OperatorSettings(renderer_image="reelkube/renderer:t", job_ttl_seconds=900, max_chunks=6)


def timeline(seconds: float) -> dict[str, Any]:
    """A colour timeline ``seconds`` long (its length is known from the spec)."""
    return {
        "width": 320,
        "height": 240,
        "fps": 25,
        "tracks": [{"clips": [{"type": "color", "color": "#000000", "start": 0, "duration": seconds}]}],
    }


def env_of(manifest: dict[str, Any]) -> dict[str, Any]:
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# --- how many windows -----------------------------------------------------------------------

COUNTS: dict[str, tuple[dict[str, Any], int]] = {
    "absent-is-one-pod": ({"timeline": timeline(60)}, 1),
    "one-is-one-pod": ({"timeline": timeline(60), "output": {"chunks": 1}}, 1),
    "a-number-on-a-timeline": ({"timeline": timeline(60), "output": {"chunks": 4}}, 4),
    "a-number-is-capped-by-the-chart": ({"timeline": timeline(600), "output": {"chunks": 20}}, 6),
    "auto-gives-each-window-the-chart-minimum": ({"timeline": timeline(35), "output": {"chunks": "auto"}}, 3),
    "auto-is-capped-by-the-chart": ({"timeline": timeline(3600), "output": {"chunks": "auto"}}, 6),
    "auto-on-a-short-timeline-is-one-pod": ({"timeline": timeline(8), "output": {"chunks": "auto"}}, 1),
    "gif-is-never-split": ({"timeline": timeline(60), "output": {"format": "gif", "chunks": 4}}, 1),
    "a-number-on-a-template": ({"output": {"chunks": 3}}, 3),
    "auto-on-a-template-is-one-pod-its-length-is-unknown": ({"output": {"chunks": "auto"}}, 1),
}


@pytest.mark.parametrize(("spec", "count"), COUNTS.values(), ids=COUNTS.keys())
def test_chunk_count_for(spec: dict[str, Any], count: int) -> None:
    if "timeline" in spec:
        spec = {"template": None, "props": None, **spec}
    body = render_body(**spec)
    body["spec"] = {k: v for k, v in body["spec"].items() if v is not None}
    from reelkube.api.kinds import RENDER_JOB

    assert chunk_count_for(RENDER_JOB.parse(body), SETTINGS) == count


def test_a_ttsjob_is_never_split() -> None:
    assert chunk_count_for(tts_job(), SETTINGS) == 1


def test_settings_read_the_chart_values() -> None:
    env = {
        "REELKUBE_MAX_CHUNKS": "4",
        "REELKUBE_MIN_CHUNK_SECONDS": "2.5",
        "REELKUBE_CHUNK_CACHE_TTL_SECONDS": "60",
    }
    settings = settings_from_env(env)
    assert (settings.max_chunks, settings.min_chunk_seconds, settings.chunk_cache_ttl_seconds) == (4, 2.5, 60)
    with pytest.raises(ValueError, match="MAX_CHUNKS"):
        settings_from_env({"REELKUBE_MAX_CHUNKS": "0"})
    with pytest.raises(ValueError, match="MIN_CHUNK_SECONDS"):
        settings_from_env({"REELKUBE_MIN_CHUNK_SECONDS": "soon"})


# --- the Jobs -------------------------------------------------------------------------------


def test_the_chunk_job_is_indexed_with_retries_per_index() -> None:
    resource = render_job(output={"chunks": 3})
    manifest = build_chunk_job(resource, SETTINGS, 3)
    spec = manifest["spec"]
    assert manifest["metadata"]["name"] == first_job_name(resource, 3) == job_name_with(resource, "chunks")
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["backoffLimitPerIndex"] == resource.spec.retries
    assert "backoffLimit" not in spec  # with backoffLimitPerIndex it would cap all indexes together
    assert spec["maxFailedIndexes"] == 0  # one window lost for good fails the render at once
    rules = spec["podFailurePolicy"]["rules"]
    assert [r["action"] for r in rules] == ["FailIndex", "Ignore", "FailIndex", "Ignore"]
    assert rules[0]["onExitCodes"]["values"] == [EXIT_BAD_INPUT]
    assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget"}]
    assert rules[2]["onExitCodes"]["values"] == [EXIT_KILLED]
    # A window stopped by SIGTERM (its pod deleted) renders again, even with no retries left.
    assert rules[3]["onExitCodes"]["values"] == [EXIT_CANCELED]
    # Only the chunk Job: a single render's Job keeps counting a SIGTERM as an attempt.
    single_rules = build_job(resource, SETTINGS)["spec"]["podFailurePolicy"]["rules"]
    assert [EXIT_CANCELED] not in [r.get("onExitCodes", {}).get("values") for r in single_rules]
    # The merge Job is its dependent: it must outlive the merge's deadline.
    assert spec["ttlSecondsAfterFinished"] == 900 + resource.spec.timeoutSeconds
    env = env_of(manifest)
    assert (env[CHUNK_ROLE_ENV], env[CHUNK_COUNT_ENV]) == ("segment", "3")
    assert env[CHUNK_CACHE_TTL_ENV] == str(SETTINGS.chunk_cache_ttl_seconds)
    # The same pod as a single render otherwise: same account, spec file, resources.
    single = build_job(resource, SETTINGS)
    assert manifest["spec"]["template"]["spec"]["serviceAccountName"] == child_name(resource)
    assert {k: v for k, v in env.items() if not k.startswith("REELKUBE_CHUNK")} == env_of(single)


def test_the_merge_job_is_owned_by_the_resource_and_the_chunk_job() -> None:
    resource = render_job(output={"chunks": 2})
    chunks = {"metadata": {"name": job_name_with(resource, "chunks"), "uid": "chunk-job-uid"}}
    manifest = build_merge_job(resource, SETTINGS, 2, chunks)
    assert manifest["metadata"]["name"] == merge_job_name(resource)
    owners = manifest["metadata"]["ownerReferences"]
    assert owners[0]["uid"] == UID and owners[0]["controller"] is True
    assert owners[1] == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": chunks["metadata"]["name"],
        "uid": "chunk-job-uid",
    }
    assert (manifest["spec"]["completions"], manifest["spec"]["backoffLimit"]) == (1, resource.spec.retries)
    assert manifest["spec"]["podFailurePolicy"]["rules"][0]["action"] == "FailJob"
    assert env_of(manifest)[CHUNK_ROLE_ENV] == "merge"


def test_build_render_job_picks_the_single_job_or_the_chunk_job() -> None:
    assert build_render_job(render_job(), SETTINGS) == build_job(render_job(), SETTINGS)
    assert build_render_job(render_job(output={"chunks": 2}), SETTINGS)["spec"]["completionMode"] == "Indexed"


def test_job_names_leave_room_for_the_pod_hostnames() -> None:
    resource = render_job()
    body = render_body()
    body["metadata"]["name"] = "x" * 200
    from reelkube.api.kinds import RENDER_JOB

    named = RENDER_JOB.parse(body)
    for suffix in ("chunks", "merge"):
        name = job_name_with(named, suffix)
        assert len(name) + len("-63") <= 63, name
        assert name.endswith(f"-{suffix}") and child_name(named).rsplit("-", 1)[1] in name
    assert job_name_with(resource, "merge") == f"{child_name(resource)}-merge"


# --- what the Job says per window -----------------------------------------------------------


def test_parse_indexes() -> None:
    assert parse_indexes("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert parse_indexes("") == set() and parse_indexes(None) == set()


def test_chunk_view_counts_attempts_from_the_job_controllers_annotations() -> None:
    seen = chunk_view(
        job(completedIndexes="0", failedIndexes="3"),
        [
            chunk_pod("a", 0, "Succeeded", terminated(0, reason="Completed")),
            chunk_pod("b", 1, "Running", running(), failures=1),  # its index failed once before
            chunk_pod("c", 2, "Running", running(), ignored=2),  # two disruptions, not counted
            chunk_pod("d", 3, "Failed", terminated(2)),
        ],
        5,
    )
    assert seen.states == {0: "Succeeded", 1: "Running", 2: "Running", 3: "Failed", 4: "Pending"}
    assert seen.attempts == {0: 1, 1: 2, 2: 3, 3: 1}
    assert seen.summary() == "1/5 chunks"
    assert chunk_pod("a", 4, "Running")["metadata"]["labels"][CHUNK_INDEX_LABEL] == "4"


# --- the status patches ---------------------------------------------------------------------


def test_chunk_update_writes_only_what_changed_and_never_lowers_attempts() -> None:
    view = ChunkView(count=2, states={0: "Running", 1: "Succeeded"}, attempts={0: 1, 1: 1})
    first = chunk_update(ResourceStatus(), view)
    assert first == {
        "chunks": {
            "0": {"index": 0, "state": "Running", "attempts": 1},
            "1": {"index": 1, "state": "Succeeded", "attempts": 1},
        },
        "chunkCount": 2,
        "chunkSummary": "1/2 chunks",
    }
    # The pods' own fields stay theirs: the operator's patch does not name them.
    current = ResourceStatus.model_validate(
        {
            **first,
            "chunks": {
                "0": {**first["chunks"]["0"], "framesDone": 40, "attempts": 2},
                "1": first["chunks"]["1"],
            },
        }
    )
    assert chunk_update(current, view) == {}  # a deleted pod's attempt is not forgotten
    later = ChunkView(count=2, states={0: "Succeeded", 1: "Succeeded"}, attempts={0: 3, 1: 1})
    assert chunk_update(current, later) == {
        "chunks": {"0": {"index": 0, "state": "Succeeded", "attempts": 3}},
        "chunkSummary": "2/2 chunks",
    }


def test_progress_is_summed_over_the_windows_and_only_moves_forward() -> None:
    def status(done: tuple[int, int], **extra: Any) -> ResourceStatus:
        chunks = {str(i): {"index": i, "framesDone": d, "frames": 100} for i, d in enumerate(done)}
        return ResourceStatus.model_validate({"phase": "Running", "chunkCount": 2, "chunks": chunks, **extra})

    assert chunk_progress_update(status((50, 30))) == {"progress": 38, "currentFrame": 80, "totalFrames": 200}
    assert chunk_progress_update(status((50, 30), progress=38, currentFrame=80, totalFrames=200)) == {}
    assert chunk_progress_update(status((50, 30), progress=60, currentFrame=120, totalFrames=200)) == {}
    assert chunk_progress_update(status((100, 100), progress=60))["progress"] == CHUNK_RENDER_SHARE
    # The merge pod's share: the sum never takes the progress back from it.
    assert chunk_progress_update(status((100, 100), progress=97)) == {}
    assert chunk_progress_update(status((100, 100), phase="Succeeded")) == {}
    # Until every window said its size, the total is the one the status has.
    partial = ResourceStatus.model_validate(
        {
            "phase": "Running",
            "chunkCount": 2,
            "totalFrames": 400,
            "chunks": {"0": {"index": 0, "framesDone": 100, "frames": 200}},
        }
    )
    assert chunk_progress_update(partial) == {"progress": 23, "currentFrame": 100}
