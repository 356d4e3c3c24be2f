"""status_from_job: phases and causes from real-shaped Job and pod JSON; phase_update diffs."""

from __future__ import annotations

import json
from typing import Any

from reelkube.api.status import Condition, JobStatus, Phase
from reelkube.controller.jobstatus import phase_update, status_from_job, webhook_event

JOB = "rj-summer-reel-0123456789"


def job(conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": JOB, "namespace": "media"},
        "spec": {"activeDeadlineSeconds": 600, "backoffLimit": 2},
        "status": {"startTime": "2025-01-01T00:00:05Z", "conditions": conditions or [], **status},
    }


def cond(type_: str, reason: str = "", message: str = "", at: str = "2025-01-01T00:01:00Z") -> dict[str, Any]:
    return {"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": at}


def pod(
    name: str,
    phase: str,
    state: dict[str, Any] | None = None,
    created: str = "2025-01-01T00:00:06Z",
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"containers": [{"name": "reelkube", "resources": {"limits": {"memory": "2Gi"}}}]},
        "status": {
            "phase": phase,
            "conditions": conditions or [],
            "containerStatuses": [{"name": "reelkube", "state": state or {}}] if state is not None else [],
        },
    }


def terminated(exit_code: int, message: str = "", reason: str = "Error") -> dict[str, Any]:
    return {"terminated": {"exitCode": exit_code, "reason": reason, "message": message}}


def test_running_pod_means_running() -> None:
    patch = status_from_job(
        job(active=1), [pod("p1", "Running", {"running": {"startedAt": "2025-01-01T00:00:09Z"}})]
    )
    assert patch.phase == Phase.RUNNING
    assert patch.job_name == JOB and patch.attempts == 1
    assert patch.start_time == "2025-01-01T00:00:05Z"


def test_job_without_pods_is_queued() -> None:
    patch = status_from_job(job(), [])
    assert (patch.phase, patch.reason, patch.attempts, patch.stalled) == (
        Phase.QUEUED,
        "JobCreated",
        0,
        False,
    )


def test_unschedulable_pod_is_queued_with_the_schedulers_message() -> None:
    unscheduled = pod(
        "p1",
        "Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes: Insufficient cpu.",
            }
        ],
    )
    patch = status_from_job(job(active=1), [unscheduled])
    assert (patch.phase, patch.reason) == (Phase.QUEUED, "Unschedulable")
    assert "Insufficient cpu" in patch.message and not patch.stalled


def test_image_pull_failure_is_stalled() -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope:1"'}}
    patch = status_from_job(job(active=1), [pod("p1", "Pending", waiting)])
    assert (patch.phase, patch.reason, patch.stalled) == (Phase.QUEUED, "ImagePullBackOff", True)
    assert "nope:1" in patch.message


def test_complete_job_succeeded() -> None:
    patch = status_from_job(
        job(
            [cond("SuccessCriteriaMet"), cond("Complete")], succeeded=1, completionTime="2025-01-01T00:02:00Z"
        ),
        [pod("p1", "Succeeded", terminated(0, reason="Completed"))],
    )
    assert patch.phase == Phase.SUCCEEDED
    assert patch.completion_time == "2025-01-01T00:02:00Z"


def test_termination_message_names_the_cause() -> None:
    message = json.dumps({"reason": "InputNotFound", "message": "https://example.com/bg.jpg returned 404"})
    patch = status_from_job(
        job([cond("Failed", "PodFailurePolicy", "Container reelkube ... exit code 2")], failed=1),
        [pod("p1", "Failed", terminated(2, message))],
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "InputNotFound")
    assert patch.message == "https://example.com/bg.jpg returned 404"
    assert patch.completion_time == "2025-01-01T00:01:00Z"


def test_last_failed_attempt_explains_a_backoff_limit() -> None:
    first = pod(
        "p1",
        "Failed",
        terminated(1, json.dumps({"reason": "StorageFailed", "message": "first"})),
        "2025-01-01T00:00:06Z",
    )
    last = pod(
        "p2",
        "Failed",
        terminated(1, json.dumps({"reason": "RenderFailed", "message": "ffmpeg: boom"})),
        "2025-01-01T00:00:30Z",
    )
    patch = status_from_job(
        job(
            [cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")], failed=2
        ),
        [last, first],
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "RenderFailed")
    assert patch.message == "ffmpeg: boom (after 2 attempts)"
    assert patch.attempts == 2


def test_oom_kill_is_out_of_memory_with_the_limit() -> None:
    patch = status_from_job(
        job([cond("Failed", "BackoffLimitExceeded")], failed=1),
        [pod("p1", "Failed", terminated(137, "", reason="OOMKilled"))],
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "OutOfMemory")
    assert "2Gi" in patch.message and "spec.resources.memory" in patch.message


def test_deadline_names_the_timeout() -> None:
    canceled = pod(
        "p1",
        "Failed",
        terminated(143, json.dumps({"reason": "Canceled", "message": "stopped by signal SIGTERM"})),
    )
    patch = status_from_job(
        job([cond("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")]), [canceled]
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "DeadlineExceeded")
    assert "600s" in patch.message and "spec.timeoutSeconds" in patch.message


def test_plain_logs_fall_back_to_exit_code_and_tail() -> None:
    patch = status_from_job(
        job([cond("Failed", "BackoffLimitExceeded")], failed=1),
        [pod("p1", "Failed", terminated(1, "Traceback ...\nValueError: nope"))],
    )
    assert patch.reason == "RenderFailed"
    assert "exited with code 1" in patch.message and "ValueError: nope" in patch.message


def test_canceled_cause_gives_canceled_phase() -> None:
    canceled = pod(
        "p1",
        "Failed",
        terminated(143, json.dumps({"reason": "Canceled", "message": "stopped by signal SIGTERM"})),
    )
    patch = status_from_job(job([cond("Failed", "BackoffLimitExceeded")], failed=1), [canceled])
    assert (patch.phase, patch.reason) == (Phase.CANCELED, "Canceled")


def test_job_condition_alone_when_no_pod_explains() -> None:
    patch = status_from_job(
        job([cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]), []
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "BackoffLimitExceeded")


def test_retry_in_progress_mentions_the_earlier_failure() -> None:
    first = pod(
        "p1",
        "Failed",
        terminated(1, json.dumps({"reason": "StorageFailed", "message": "timeout"})),
        "2025-01-01T00:00:06Z",
    )
    second = pod("p2", "Running", {"running": {}}, "2025-01-01T00:00:30Z")
    patch = status_from_job(job(active=1, failed=1), [first, second])
    assert patch.phase == Phase.RUNNING and patch.attempts == 2
    assert "attempt 1 failed: StorageFailed: timeout" in patch.message


def test_phase_update_writes_only_what_changed_and_sets_conditions() -> None:
    current = JobStatus()
    patch = phase_update(
        current,
        phase=Phase.QUEUED,
        reason="JobCreated",
        message="m",
        generation=1,
        job_name=JOB,
        attempts=0,
        now="T1",
    )
    assert patch["phase"] == "Queued" and patch["jobName"] == JOB and patch["observedGeneration"] == 1
    assert [(c["type"], c["status"]) for c in patch["conditions"]] == [
        ("Reconciling", "True"),
        ("Ready", "False"),
    ]
    applied = JobStatus.model_validate(patch)
    assert (
        phase_update(
            applied,
            phase=Phase.QUEUED,
            reason="JobCreated",
            message="m",
            generation=1,
            job_name=JOB,
            attempts=0,
        )
        == {}
    )


def test_phase_update_success_sets_ready_progress_and_completion() -> None:
    current = JobStatus(
        phase=Phase.RUNNING, conditions=[Condition(type="Reconciling", status="True", reason="Running")]
    )
    patch = phase_update(
        current, phase=Phase.SUCCEEDED, reason="Succeeded", message="ok", generation=1, completion_time="T2"
    )
    assert patch["progress"] == 100 and patch["step"] == "done" and patch["completionTime"] == "T2"
    assert [(c["type"], c["status"]) for c in patch["conditions"]] == [("Ready", "True")]


def test_terminal_phase_is_never_reopened() -> None:
    done = JobStatus(phase=Phase.SUCCEEDED)
    assert phase_update(done, phase=Phase.RUNNING, reason="Running", message="late event", generation=1) == {}


def test_failure_marks_ready_false_and_stalled() -> None:
    patch = phase_update(
        JobStatus(phase=Phase.RUNNING),
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
