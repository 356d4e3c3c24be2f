"""phase_update: the status patch diffs and the conditions that follow the phase; webhook events."""

from __future__ import annotations

from reelkube.api.status import Condition, Phase, ResourceStatus
from reelkube.controller.job_observation import JobObservation
from reelkube.controller.status_updates import phase_update, update_from_observation, webhook_event
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


def test_webhook_events_follow_phase_changes() -> None:
    assert webhook_event(Phase.QUEUED, Phase.RUNNING) == "started"
    assert webhook_event(Phase.RUNNING, Phase.SUCCEEDED) == "succeeded"
    assert webhook_event(Phase.RUNNING, Phase.FAILED) == "failed"
    assert webhook_event(None, Phase.CANCELED) == "canceled"
    assert webhook_event(Phase.RUNNING, Phase.RUNNING) is None
    assert webhook_event(None, Phase.QUEUED) is None


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


def test_canceled_announces_the_canceled_event() -> None:
    assert webhook_event(Phase.RUNNING, Phase.CANCELED) == "canceled"
    assert webhook_event(Phase.QUEUED, Phase.CANCELED) == "canceled"


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
