"""phase_update: the status patch diffs and the conditions that follow the phase; webhook events."""

from __future__ import annotations

from reelkube.api.status import Condition, Phase, ResourceStatus
from reelkube.controller.job_observation import JobObservation
from reelkube.controller.status_updates import phase_update, update_from_observation
from support.resources import JOB_NAME


def test_phase_update_writes_only_what_changed_and_sets_conditions() -> None:
    current = ResourceStatus()
    patch = phase_update(
        current,
        phase=Phase.QUEUED,
        reason="JobCreated",
        message="m",
        generation=1,
        job_name=JOB_NAME,
        attempts=0,
        now="T1",
    )
    assert patch["phase"] == "Queued" and patch["jobName"] == JOB_NAME and patch["observedGeneration"] == 1
    assert [(c["type"], c["status"]) for c in patch["conditions"]] == [
        ("Reconciling", "True"),
        ("Ready", "False"),
    ]
    applied = ResourceStatus.model_validate(patch)
    assert (
        phase_update(
            applied,
            phase=Phase.QUEUED,
            reason="JobCreated",
            message="m",
            generation=1,
            job_name=JOB_NAME,
            attempts=0,
        )
        == {}
    )


def test_phase_update_success_sets_ready_progress_and_completion() -> None:
    current = ResourceStatus(
        phase=Phase.RUNNING, conditions=[Condition(type="Reconciling", status="True", reason="Running")]
    )
    patch = phase_update(
        current, phase=Phase.SUCCEEDED, reason="Succeeded", message="ok", generation=1, completion_time="T2"
    )
    assert patch["progress"] == 100 and patch["step"] == "done" and patch["completionTime"] == "T2"
    assert [(c["type"], c["status"]) for c in patch["conditions"]] == [("Ready", "True")]


def test_terminal_phase_is_never_reopened() -> None:
    done = ResourceStatus(phase=Phase.SUCCEEDED)
    assert phase_update(done, phase=Phase.RUNNING, reason="Running", message="late event", generation=1) == {}


def test_failure_marks_ready_false_and_stalled() -> None:
    patch = phase_update(
        ResourceStatus(phase=Phase.RUNNING),
        phase=Phase.FAILED,
        reason="InputNotFound",
        message="404",
        generation=2,
    )
    conds = {c["type"]: c for c in patch["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "InputNotFound"
    assert conds["Stalled"]["status"] == "True" and "Reconciling" not in conds


def test_a_cancel_drops_the_outputs_a_partial_run_listed() -> None:
    partial = ResourceStatus.model_validate(
        {"phase": "Running", "jobName": JOB_NAME, "outputs": {"thumbnail": {"uri": "s3://b/t.jpg"}}}
    )
    patch = phase_update(
        partial,
        phase=Phase.CANCELED,
        reason="CanceledByUser",
        message="m",
        generation=1,
        drop_outputs=True,
        now="T1",
    )
    assert patch["outputs"] is None and patch["phase"] == "Canceled" and patch["completionTime"] == "T1"
    nothing_listed = ResourceStatus.model_validate({"phase": "Queued"})
    kept = phase_update(
        nothing_listed,
        phase=Phase.CANCELED,
        reason="CanceledByUser",
        message="m",
        generation=1,
        drop_outputs=True,
    )
    assert "outputs" not in kept


def test_a_running_gpu_fallback_says_so_in_the_message() -> None:
    label = "libx264 (fallback: h264_nvenc unavailable: Cannot load libcuda.so.1)"
    running = JobObservation(Phase.RUNNING, "Running", "pod p1 is rendering", JOB_NAME, 1)
    current = ResourceStatus(phase=Phase.RUNNING, encoder=label)
    patch = update_from_observation(current, running, generation=1)
    assert patch["message"] == f"pod p1 is rendering; encoding on the CPU: {label}"
    on_gpu = update_from_observation(
        ResourceStatus(phase=Phase.RUNNING, encoder="h264_nvenc"), running, generation=1
    )
    assert on_gpu["message"] == "pod p1 is rendering"


def merge(status: ResourceStatus, patch: dict) -> ResourceStatus:
    """The status after a merge patch (null deletes), as the API server applies it."""
    merged = {**status.model_dump(mode="json", exclude_none=True), **patch}
    return ResourceStatus.model_validate({k: v for k, v in merged.items() if v is not None})


PHASE_RANK = {"Pending": 0, "Queued": 1, "Running": 2, "Succeeded": 3, "Failed": 3, "Canceled": 3}


def test_within_an_attempt_the_phase_never_goes_back() -> None:
    # What the Job and its pod say, observation by observation, for one render whose Job lags
    # its pod at the end (pod done, Job not yet Complete: "waiting for its pod to run" again).
    observations = [
        JobObservation(
            Phase.QUEUED, "JobCreated", f"Job {JOB_NAME} created, waiting for its pod to run", JOB_NAME, 0
        ),
        JobObservation(Phase.QUEUED, "ContainerCreating", "pod p1 is starting", JOB_NAME, 1),
        JobObservation(Phase.RUNNING, "Running", "pod p1 is rendering", JOB_NAME, 1),
        JobObservation(
            Phase.QUEUED, "JobCreated", f"Job {JOB_NAME} created, waiting for its pod to run", JOB_NAME, 1
        ),
        JobObservation(Phase.RUNNING, "Running", "pod p1 is rendering", JOB_NAME, 1),
        JobObservation(Phase.SUCCEEDED, "Succeeded", "render finished and outputs uploaded", JOB_NAME, 1),
        JobObservation(Phase.RUNNING, "Running", "pod p1 is rendering", JOB_NAME, 1),
    ]
    status = ResourceStatus(phase=Phase.QUEUED, attempts=0, jobName=JOB_NAME)
    seen: list[tuple[str, str]] = []
    for observation in observations:
        status = merge(status, update_from_observation(status, observation, generation=1))
        assert status.phase is not None and status.message is not None
        seen.append((status.phase.value, status.message))
    ranks = [PHASE_RANK[phase] for phase, _ in seen]
    assert ranks == sorted(ranks), seen
    assert seen[3] == ("Running", "pod p1 is rendering"), "the lagging Job view is not written"
    assert seen[-1][0] == "Succeeded"


def test_a_new_attempt_may_wait_for_its_pod_again() -> None:
    running = ResourceStatus(phase=Phase.RUNNING, attempts=1, jobName=JOB_NAME)
    pod_gone = JobObservation(Phase.QUEUED, "JobCreated", "waiting; attempt 1 failed: X: y", JOB_NAME, 1)
    assert update_from_observation(running, pod_gone, generation=1) == {}
    retry = JobObservation(
        Phase.QUEUED, "ContainerCreating", "pod p2 is starting; attempt 1 failed: X: y", JOB_NAME, 2
    )
    patch = update_from_observation(running, retry, generation=1)
    assert patch["phase"] == "Queued" and patch["attempts"] == 2
