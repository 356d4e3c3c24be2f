"""status_from_job: phases and causes from real-shaped Job and pod JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reelkube.api.status import Phase
from reelkube.controller.job_observation import job_finished, status_from_chunk_job, status_from_job
from support.resources import JOB_NAME, chunk_pod, condition, job, pod, terminated


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
    assert "attempt 1 failed: PodStopped: render pod p1 was stopped (SIGTERM, exit 143)" in patch.message
    assert "not counted against spec.retries" in patch.message


def deleted(built: dict[str, Any], grace: int = 10) -> dict[str, Any]:
    """``built`` (a pod) deleted by someone, with the pod's grace period."""
    built["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:50Z"
    built["spec"]["terminationGracePeriodSeconds"] = grace
    return built


def with_retries(built: dict[str, Any], retries: int) -> dict[str, Any]:
    """``built`` (a Job) of a resource with ``spec.retries`` = ``retries``."""
    built["spec"]["backoffLimit"] = retries
    return built


NO_RETRIES_LEFT = "; spec.retries is 0, so it was not retried: apply the resource again to render it"
DELETED_P1 = "render pod p1 was deleted (SIGTERM, exit 143) before it finished"


@pytest.mark.parametrize(
    ("retries", "pods", "expected"),
    [
        pytest.param(
            0,
            [deleted(pod("p1", "Failed", terminated(143, CANCELED_MESSAGE)))],
            ("PodStopped", DELETED_P1 + NO_RETRIES_LEFT),
            id="deleted-runner-said-canceled",
        ),
        pytest.param(
            0,
            # SIGTERM's default action before the runner's handler: no message, the log tail.
            [deleted(pod("p1", "Failed", terminated(143, "INFO event=start")))],
            ("PodStopped", DELETED_P1 + NO_RETRIES_LEFT),
            id="deleted-before-the-runner-set-its-handler",
        ),
        pytest.param(
            0,
            [pod("p1", "Failed", terminated(143, CANCELED_MESSAGE))],
            ("PodStopped", DELETED_P1.replace("deleted", "stopped") + NO_RETRIES_LEFT),
            id="stopped-without-a-delete",
        ),
        pytest.param(
            2,
            [
                pod("p1", "Failed", terminated(1, BAD_INPUT_MESSAGE), "2025-01-01T00:00:06Z"),
                pod("p2", "Failed", terminated(1, BAD_INPUT_MESSAGE), "2025-01-01T00:00:20Z"),
                deleted(pod("p3", "Failed", terminated(143, CANCELED_MESSAGE), "2025-01-01T00:00:40Z")),
            ],
            (
                "PodStopped",
                "render pod p3 was deleted (SIGTERM, exit 143) before it finished; it was the last of 3"
                " attempts (spec.retries is 2): apply the resource again",
            ),
            id="deleted-on-the-last-of-its-retries",
        ),
    ],
)
def test_a_pod_stopped_on_its_last_attempt_fails_the_resource_never_cancels_it(
    retries: int, pods: list, expected: tuple
) -> None:
    failed = with_retries(job([condition("Failed", "BackoffLimitExceeded")], failed=len(pods)), retries)
    patch = status_from_job(failed, pods)
    assert (patch.phase, patch.reason, patch.message) == (Phase.FAILED, *expected)
    assert patch.attempts == len(pods)


def test_a_deleted_pod_killed_after_its_grace_period_is_not_out_of_memory() -> None:
    killed = deleted(pod("p1", "Failed", terminated(137)), grace=10)
    patch = status_from_job(job([condition("Failed", "PodFailurePolicy")], failed=1), [killed])
    assert (patch.phase, patch.reason, patch.attempts) == (Phase.FAILED, "PodStopped", 1)
    assert patch.message.startswith(
        "render pod p1 was deleted and did not stop within its grace period of 10s, so the kubelet"
        " killed it (SIGKILL, exit 137); exit 137 fails the Job at once"
    )
    assert "jobs.terminationGracePeriodSeconds" in patch.message
    assert "memory" not in patch.message.split(";")[0]


def test_an_oom_kill_of_a_deleted_pod_is_still_out_of_memory() -> None:
    oom = deleted(pod("p1", "Failed", terminated(137, "", reason="OOMKilled")))
    patch = status_from_job(job([condition("FailureTarget", "PodFailurePolicy")], failed=1), [oom])
    assert (patch.phase, patch.reason, patch.attempts) == (Phase.FAILED, "OutOfMemory", 1)


def test_a_sigkill_whose_pod_is_gone_says_what_cannot_be_told() -> None:
    said = "Container reelkube for pod media/p1 failed with exit code 137 matching FailJob rule at index 2"
    patch = status_from_job(job([condition("Failed", "PodFailurePolicy", said)], failed=1), [])
    assert (patch.phase, patch.reason) == (Phase.FAILED, "Killed")
    assert "is gone" in patch.message and "spec.resources.memory" in patch.message and said in patch.message


def test_a_failed_chunk_window_killed_after_its_grace_names_its_window() -> None:
    # 137 fails its index (FailIndex), unlike 143: the window's own pod is the cause, while a
    # window stopped by the Job's failure (143) is skipped.
    killed = deleted(chunk_pod("c1", 1, "Failed", terminated(137), created="2025-01-01T00:00:07Z"))
    stopped = deleted(
        chunk_pod("c0", 0, "Failed", terminated(143, CANCELED_MESSAGE), created="2025-01-01T00:00:08Z")
    )
    failed = job([condition("Failed", "FailedIndexes")], failed=2, failedIndexes="1")
    patch = status_from_chunk_job(failed, [killed, stopped], 2)
    assert (patch.phase, patch.reason) == (Phase.FAILED, "PodStopped")
    assert patch.message.startswith("chunk 1 of 2: render pod c1 was deleted and did not stop")


def test_a_stopped_pod_gone_before_the_job_failed_is_named_by_the_jobs_condition() -> None:
    # With spec.retries 0 the podFailurePolicy fails the Job on 143 by a rule, whose condition
    # names the pod: a deleted pod is gone once the Job controller has counted it.
    said = (
        "Container reelkube for pod media/summer-reel-4f1c-x7k2p failed with exit code 143 matching"
        " FailJob rule at index 3"
    )
    failed = with_retries(job([condition("Failed", "PodFailurePolicy", said)], failed=1), 0)
    patch = status_from_job(failed, [])
    assert (patch.phase, patch.reason) == (Phase.FAILED, "PodStopped")
    assert patch.message == (
        "render pod summer-reel-4f1c-x7k2p was stopped (SIGTERM, exit 143) before it finished"
        + NO_RETRIES_LEFT
    )


def test_a_job_failed_by_a_pods_exit_counts_that_pod_before_the_counters_do() -> None:
    # Seen on the cluster: the pod deleted by hand is gone and the Job's counters still read 0
    # (FailureTarget first, the count later); the failure itself says a pod ran.
    said = "Container reelkube for pod media/p1 failed with exit code 143 matching FailJob rule at index 3"
    target = with_retries(job([condition("FailureTarget", "PodFailurePolicy", said)]), 0)
    assert status_from_job(target, []).attempts == 1
    # Ended pods the Job controller has not counted yet are listed by uid.
    uncounted = job([condition("Failed", "BackoffLimitExceeded")], failed=1)
    uncounted["status"]["uncountedTerminatedPods"] = {"failed": ["uid-2"]}
    assert status_from_job(uncounted, []).attempts == 2
    # A Job failed by its deadline before any pod ran has no attempt.
    assert status_from_job(job([condition("Failed", "DeadlineExceeded")]), []).attempts == 0
