"""Which waiting resources the admission loop tries: a pure choice, oldest first, one per free slot."""

from __future__ import annotations

from reelkube.api.kinds import RENDER_JOB, TTS_JOB
from reelkube.controller.admission import Waiting, choose_admissions, waiting
from support.resources import resource_body


def named(name: str, created: str, status: dict[str, object] | None = None) -> dict[str, object]:
    body = resource_body(status=status)
    body["metadata"].update(name=name, creationTimestamp=created)
    return body


def test_waiting_means_no_job_yet_and_not_finished() -> None:
    bodies = [
        named("fresh", "2025-01-01T00:00:03Z"),
        named("pending", "2025-01-01T00:00:02Z", {"phase": "Pending", "reason": "CreateFailed"}),
        named("queued", "2025-01-01T00:00:01Z", {"phase": "Queued", "reason": "ConcurrencyLimit"}),
        named("created", "2025-01-01T00:00:00Z", {"phase": "Queued", "jobName": "rj-created-x"}),
        named("running", "2025-01-01T00:00:00Z", {"phase": "Running", "jobName": "rj-running-x"}),
        named("failed", "2025-01-01T00:00:00Z", {"phase": "Failed", "reason": "InvalidSpec"}),
    ]
    assert [w.name for w in waiting(RENDER_JOB, bodies)] == ["fresh", "pending", "queued"]
    assert {w.kind for w in waiting(TTS_JOB, bodies)} == {"TTSJob"}


def test_choose_takes_the_oldest_for_the_free_slots() -> None:
    candidates = [
        Waiting("2025-01-01T00:00:03Z", "RenderJob", "media", "third"),
        Waiting("2025-01-01T00:00:01Z", "TTSJob", "media", "first"),
        Waiting("2025-01-01T00:00:02Z", "RenderJob", "other", "second"),
    ]
    assert [w.name for w in choose_admissions(candidates, running=1, limit=3)] == ["first", "second"]
    assert [w.name for w in choose_admissions(candidates, running=0, limit=5)] == ["first", "second", "third"]


def test_choose_nothing_when_the_limit_is_reached_or_overrun() -> None:
    candidates = [Waiting("2025-01-01T00:00:01Z", "RenderJob", "media", "a")]
    assert choose_admissions(candidates, running=2, limit=2) == []
    assert choose_admissions(candidates, running=5, limit=2) == []
