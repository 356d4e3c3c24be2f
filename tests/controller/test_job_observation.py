"""status_from_job: phases and causes from real-shaped Job and pod JSON."""

from __future__ import annotations

import json

import pytest

from reelkube.api.status import Phase
from reelkube.controller.job_observation import job_finished, status_from_job
from support.resources import JOB_NAME, condition, job, pod, terminated


def test_running_pod_means_running() -> None:
    patch = status_from_job(
        job(active=1), [pod("p1", "Running", {"running": {"startedAt": "2025-01-01T00:00:09Z"}})]
    )
    assert patch.phase == Phase.RUNNING
    assert patch.job_name == JOB_NAME and patch.attempts == 1
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
            [condition("SuccessCriteriaMet"), condition("Complete")],
            succeeded=1,
            completionTime="2025-01-01T00:02:00Z",
        ),
        [pod("p1", "Succeeded", terminated(0, reason="Completed"))],
    )
    assert patch.phase == Phase.SUCCEEDED
    assert patch.completion_time == "2025-01-01T00:02:00Z"


def test_termination_message_names_the_cause() -> None:
    message = json.dumps({"reason": "InputNotFound", "message": "https://example.com/bg.jpg returned 404"})
    patch = status_from_job(
        job([condition("Failed", "PodFailurePolicy", "Container reelkube ... exit code 2")], failed=1),
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
            [condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")],
            failed=2,
        ),
        [last, first],
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "RenderFailed")
    assert patch.message == "ffmpeg: boom (after 2 attempts)"
    assert patch.attempts == 2


def test_oom_kill_is_out_of_memory_with_the_limit() -> None:
    patch = status_from_job(
        job([condition("Failed", "BackoffLimitExceeded")], failed=1),
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
        job([condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")]),
        [canceled],
    )
    assert (patch.phase, patch.reason) == (Phase.FAILED, "DeadlineExceeded")
    assert "600s" in patch.message and "spec.timeoutSeconds" in patch.message


def test_plain_logs_fall_back_to_exit_code_and_tail() -> None:
    patch = status_from_job(
        job([condition("Failed", "BackoffLimitExceeded")], failed=1),
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
    patch = status_from_job(job([condition("Failed", "BackoffLimitExceeded")], failed=1), [canceled])
    assert (patch.phase, patch.reason) == (Phase.CANCELED, "Canceled")


def test_job_condition_alone_when_no_pod_explains() -> None:
    patch = status_from_job(
        job([condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]), []
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


def test_a_job_is_finished_when_complete_or_failed() -> None:
    assert job_finished(job([condition("Complete")]))
    assert job_finished(job([condition("Failed", "BackoffLimitExceeded")]))
    assert not job_finished(job([condition("FailureTarget")], active=1))
    assert not job_finished(job([{**condition("Failed"), "status": "False"}]))


DISRUPTED = [{"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]
CANCELED_MESSAGE = json.dumps({"reason": "Canceled", "message": "stopped by signal SIGTERM"})
BAD_INPUT_MESSAGE = json.dumps(
    {"reason": "InputRejected", "message": "https://x.test/a.png answered HTTP 403"}
)
DENIED_MESSAGE = json.dumps({"reason": "StorageDenied", "message": "storage refused the credentials (403)"})


@pytest.mark.parametrize(
    ("job_conditions", "pods", "expected"),
    [
        pytest.param(
            [condition("FailureTarget", "PodFailurePolicy")],
            [pod("p1", "Failed", terminated(137, "", reason="OOMKilled"))],
            (Phase.FAILED, "OutOfMemory", 1),
            id="oom-fails-on-the-first-attempt",
        ),
        pytest.param(
            [condition("Failed", "PodFailurePolicy")],
            [pod("p1", "Failed", terminated(2, BAD_INPUT_MESSAGE))],
            (Phase.FAILED, "InputRejected", 1),
            id="permanent-exit-fails-at-once",
        ),
        pytest.param(
            [condition("Failed", "PodFailurePolicy")],
            [pod("p1", "Failed", terminated(2, DENIED_MESSAGE))],
            (Phase.FAILED, "StorageDenied", 1),
            id="refused-credentials-fail-at-once",
        ),
        pytest.param(
            [],
            [
                pod("p1", "Failed", terminated(143, CANCELED_MESSAGE), conditions=DISRUPTED),
                pod(
                    "p2",
                    "Running",
                    {"running": {"startedAt": "2025-01-01T00:00:40Z"}},
                    "2025-01-01T00:00:30Z",
                ),
            ],
            (Phase.RUNNING, "Running", 2),
            id="disrupted-pod-is-retried",
        ),
        pytest.param(
            [],
            [
                pod("p1", "Failed", terminated(137), conditions=DISRUPTED),
                pod("p2", "Pending", None, "2025-01-01T00:00:30Z"),
            ],
            (Phase.QUEUED, "JobCreated", 2),
            id="disrupted-pod-killed-after-grace-is-retried",
        ),
        pytest.param(
            [condition("Failed", "PodFailurePolicy")],
            [pod("p1", "Failed", terminated(137))],
            (Phase.FAILED, "Killed", 1),
            id="sigkill-without-oom-fails-at-once",
        ),
    ],
)
def test_retry_causes(job_conditions: list, pods: list, expected: tuple) -> None:
    patch = status_from_job(job(job_conditions, failed=1), pods)
    assert (patch.phase, patch.reason, patch.attempts) == expected


def test_oom_message_names_the_pods_own_limit_and_the_field() -> None:
    oom = pod("p1", "Failed", terminated(137, "", reason="OOMKilled"))
    oom["spec"]["containers"][0]["resources"]["limits"]["memory"] = "768Mi"
    patch = status_from_job(job([condition("FailureTarget", "PodFailurePolicy")], failed=1), [oom])
    assert patch.message == (
        "the render ran out of memory at its limit of 768Mi: raise spec.resources.memory above 768Mi "
        "(or the chart's default for the kind); not retried, it would fail the same way"
    )


def test_oom_outranks_a_half_written_termination_message() -> None:
    oom = pod(
        "p1", "Failed", terminated(137, json.dumps({"reason": "RenderFailed", "message": "x"}), "OOMKilled")
    )
    patch = status_from_job(job([condition("Failed", "PodFailurePolicy")], failed=1), [oom])
    assert patch.reason == "OutOfMemory"


def test_disrupted_attempt_says_it_was_not_counted() -> None:
    pods = [
        pod("p1", "Failed", terminated(143, CANCELED_MESSAGE), conditions=DISRUPTED),
        pod("p2", "Running", {"running": {"startedAt": "2025-01-01T00:00:40Z"}}, "2025-01-01T00:00:30Z"),
    ]
    patch = status_from_job(job(active=1), pods)
    assert "attempt 1 failed: Canceled" in patch.message
    assert "not counted against spec.retries" in patch.message
