"""A render pod evicted for its disk (a volume's sizeLimit, the ephemeral-storage limit) fails
the render at once with ScratchFull, naming the volume and the field that raises it: the Job's
podFailurePolicy would retry it as a disruption forever (found by tests/chaos/run_chaos.py)."""

from __future__ import annotations

from typing import Any

import pytest

from reelkube.api.status import Phase
from reelkube.controller.job_observation import SCRATCH_FULL, scratch_full_message, status_from_job
from support.resources import job, pod, running, terminated

DISRUPTED = [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}]


def evicted(message: str) -> dict[str, Any]:
    gone = pod("p1", "Failed", terminated(137, ""), conditions=DISRUPTED)
    gone["status"].update(reason="Evicted", message=message)
    return gone


@pytest.mark.parametrize(
    ("kubelet", "field"),
    [
        ('Usage of EmptyDir volume "work" exceeds the limit "8Mi". ', "spec.resources.ephemeralStorage"),
        ("Pod ephemeral local storage usage exceeds the total limit of containers 8Mi. ", "ephemeralStorage"),
        ('Usage of EmptyDir volume "tmp" exceeds the limit "1Gi". ', "jobs.tmpSizeLimit"),
    ],
)
def test_an_eviction_for_disk_fails_the_render_naming_the_volume(kubelet: str, field: str) -> None:
    retry = pod("p2", "Running", running(), created="2025-01-01T00:00:30Z")
    observation = status_from_job(job(active=1), [evicted(kubelet), retry])
    assert (observation.phase, observation.reason) == (Phase.FAILED, SCRATCH_FULL)
    assert kubelet.strip() in observation.message and field in observation.message
    assert observation.attempts == 2


def test_other_evictions_stay_disruptions_and_are_retried() -> None:
    pressure = evicted("The node was low on resource: memory. Threshold quantity: 100Mi.")
    assert scratch_full_message(pressure) is None
    retry = pod("p2", "Running", running(), created="2025-01-01T00:00:30Z")
    observation = status_from_job(job(active=1), [pressure, retry])
    assert observation.phase == Phase.RUNNING
    assert "Disrupted" in observation.message and "retried, not counted" in observation.message


def test_a_failed_pod_that_was_not_evicted_is_not_scratch_full() -> None:
    assert scratch_full_message(pod("p1", "Failed", terminated(1, "disk full?"))) is None
