"""Kueue's contract (``spec.queueName``): the Jobs are built suspended with Kueue's queue label,
a suspended Job reads as Queued (waiting for Kueue's admission), and Reelkube's own queue and
limits neither hold nor count such a resource. The decision's rows are in test_decision.py; the
real Kueue admitting a RenderJob is tests/e2e/test_kueue_cluster.py.
"""

from __future__ import annotations

from typing import Any

from reelkube.api.kinds import RENDER_JOB
from reelkube.api.status import Phase, ResourceStatus
from reelkube.controller.admission import count_running, waiting
from reelkube.controller.job_manifests import (
    KUEUE_QUEUE_LABEL,
    build_chunk_job,
    build_job,
    build_merge_job,
    build_render_job,
    job_name_with,
)
from reelkube.controller.job_observation import (
    JOB_SUSPENDED,
    SUSPENDED_FOR_KUEUE,
    JobObservation,
    status_from_chunk_job,
    status_from_job,
)
from reelkube.controller.settings import OperatorSettings
from reelkube.controller.status_updates import update_from_observation
from support.resources import JOB_NAME, job, pod, render_job, resource_body, running, tts_job

SETTINGS = OperatorSettings(renderer_image="registry.example/reelkube/renderer:1.2.3", job_ttl_seconds=900)


def suspended(queue: str | None = "team-a", **status: Any) -> dict[str, Any]:
    """A Job as the API server holds it while suspended (no start time), with Kueue's label."""
    made = job(**status)
    if queue is not None:
        made["metadata"]["labels"][KUEUE_QUEUE_LABEL] = queue
    made["spec"]["suspend"] = True
    made["status"].pop("startTime")
    return made


# --- the Jobs ---------------------------------------------------------------------------------


def test_a_queue_name_makes_a_suspended_job_with_kueues_label() -> None:
    manifest = build_job(render_job(queueName="team-a"), SETTINGS)
    assert manifest["spec"]["suspend"] is True
    assert manifest["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team-a"
    # Kueue reads the label on the Job; the pods keep Reelkube's labels only.
    assert KUEUE_QUEUE_LABEL not in manifest["spec"]["template"]["metadata"]["labels"]
    # Requests equal limits: what Kueue charges against the ClusterQueue's quota.
    resources = manifest["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"] and "cpu" in resources["requests"]


def test_without_a_queue_name_the_job_is_neither_suspended_nor_labelled() -> None:
    manifest = build_job(render_job(), SETTINGS)
    assert "suspend" not in manifest["spec"]
    assert KUEUE_QUEUE_LABEL not in manifest["metadata"]["labels"]
    queued = build_job(render_job(queueName="team-a"), SETTINGS)
    # The queue changes nothing else in the Job.
    del queued["spec"]["suspend"], queued["metadata"]["labels"][KUEUE_QUEUE_LABEL]
    assert queued["spec"] == manifest["spec"]
    assert queued["metadata"]["labels"] == manifest["metadata"]["labels"]


def test_a_ttsjob_and_both_jobs_of_a_chunked_render_go_to_the_queue() -> None:
    tts = build_render_job(tts_job(queueName="narration"), SETTINGS)
    assert (tts["spec"]["suspend"], tts["metadata"]["labels"][KUEUE_QUEUE_LABEL]) == (True, "narration")
    resource = render_job(queueName="team-a", output={"chunks": 2})
    chunks = build_chunk_job(resource, SETTINGS, 2)
    assert (chunks["spec"]["suspend"], chunks["metadata"]["labels"][KUEUE_QUEUE_LABEL]) == (True, "team-a")
    owner = {"metadata": {"name": job_name_with(resource, "chunks"), "uid": "chunk-job-uid"}}
    merge = build_merge_job(resource, SETTINGS, 2, owner)
    assert (merge["spec"]["suspend"], merge["metadata"]["labels"][KUEUE_QUEUE_LABEL]) == (True, "team-a")


# --- what a suspended Job says --------------------------------------------------------------


def test_a_suspended_job_waits_for_kueue_on_its_queue() -> None:
    seen = status_from_job(suspended(), [])
    assert seen == JobObservation(
        phase=Phase.QUEUED,
        reason=SUSPENDED_FOR_KUEUE,
        message=(
            f"waiting for Kueue admission on queue team-a (Job {JOB_NAME} is suspended until its"
            " ClusterQueue has quota for it)"
        ),
        job_name=JOB_NAME,
        attempts=0,
    )
    assert not seen.stalled  # waiting for quota is no one's mistake


def test_a_job_someone_else_suspended_says_who_can_resume_it() -> None:
    seen = status_from_job(suspended(queue=None), [])
    assert (seen.phase, seen.reason) == (Phase.QUEUED, JOB_SUSPENDED)
    assert seen.message == (
        f"Job {JOB_NAME} is suspended: it starts when someone sets its spec.suspend to false"
    )


def test_admitted_the_job_runs_as_usual() -> None:
    admitted = suspended(active=1)
    admitted["spec"]["suspend"] = False
    admitted["status"]["startTime"] = "2025-01-01T00:00:05Z"
    seen = status_from_job(admitted, [pod("p1", "Running", running())])
    assert (seen.phase, seen.reason, seen.message) == (Phase.RUNNING, "Running", "pod p1 is rendering")


def test_an_evicted_job_whose_pod_still_terminates_waits_again() -> None:
    # Kueue preempted it: suspended again while the pod is being stopped.
    seen = status_from_job(suspended(active=1), [pod("p1", "Running", running())])
    assert (seen.phase, seen.reason, seen.attempts) == (Phase.QUEUED, SUSPENDED_FOR_KUEUE, 1)
    # ... and that is written, though the status said Running within the same attempt.
    status = ResourceStatus(phase=Phase.RUNNING, attempts=1, jobName=JOB_NAME, reason="Running")
    patch = update_from_observation(status, seen, generation=1)
    assert (patch["phase"], patch["reason"]) == ("Queued", SUSPENDED_FOR_KUEUE)


def test_a_suspended_chunk_job_waits_for_kueue_too() -> None:
    seen = status_from_chunk_job(suspended(), [], 3)
    assert (seen.phase, seen.reason) == (Phase.QUEUED, SUSPENDED_FOR_KUEUE)


# --- Reelkube's queue steps aside -----------------------------------------------------------


def test_a_resource_for_kueue_never_waits_in_reelkubes_queue() -> None:
    mine = resource_body(status={"phase": "Queued", "reason": "ConcurrencyLimit"})
    mine["metadata"]["name"] = "mine"
    kueues = resource_body(status={"phase": "Queued"}, spec={"queueName": "team-a"})
    kueues["metadata"]["name"] = "kueues"
    fresh = resource_body(spec={"queueName": "team-a"})
    fresh["metadata"]["name"] = "fresh"
    assert [item.name for item in waiting(RENDER_JOB, [mine, kueues, fresh])] == ["mine"]


def test_a_job_for_kueue_holds_no_reelkube_slot() -> None:
    mine = job(active=1, name="r1")
    kueues = job(active=1, name="r2")
    kueues["metadata"]["labels"][KUEUE_QUEUE_LABEL] = "team-a"
    counted = count_running([mine, kueues, suspended()])
    assert counted.by_queue == {"RenderJob": 1}
    assert counted.by_namespace == {("RenderJob", "media"): 1}
