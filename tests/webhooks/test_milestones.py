"""Which webhook events a status makes due: a table of transitions and live changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from reelkube.api.common import WebhookSpec
from reelkube.api.status import Phase, ResourceStatus
from reelkube.webhooks.milestones import due_events
from support.webhooks import documented_event_id

UID = "0b5e-uid"
EVERY = ["queued", "started", "voiceover_uploaded", "progress", "succeeded", "failed", "canceled"]


def eid(name: str) -> str:
    """The documented id of ``event`` or ``event@occurrence``, computed here, not by Reelkube."""
    return documented_event_id(UID, name)


@dataclass
class Case:
    old: Phase | None
    status: dict[str, Any]
    due: list[str]
    """Events expected, in order, as ``event`` or ``progress@milestone``."""
    recorded: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=lambda: list(EVERY))
    kind: str = "RenderJob"
    step: int = 10


CASES = {
    "created and waiting": Case(None, {"phase": "Queued"}, ["queued"]),
    "queued by a limit, then its Job": Case(Phase.QUEUED, {"phase": "Queued"}, [], recorded=["queued"]),
    "the pod runs": Case(Phase.QUEUED, {"phase": "Running"}, ["started"], recorded=["queued"]),
    # The Queued write lost (an API server restart), the Job found by the retry already running.
    "running before queued was written: queued first": Case(
        Phase.PENDING, {"phase": "Running"}, ["queued", "started"]
    ),
    "done before anything was written: queued, started, succeeded": Case(
        None, {"phase": "Succeeded"}, ["queued", "started", "succeeded"]
    ),
    "queued to succeeded unseen: started first": Case(
        Phase.QUEUED,
        {"phase": "Succeeded", "outputs": {"video": {"uri": "s3://b/v.mp4"}}},
        ["started", "succeeded"],
        recorded=["queued"],
    ),
    "narrated success: voice-over before succeeded": Case(
        Phase.RUNNING,
        {"phase": "Succeeded", "outputs": {"video": {"uri": "s3://b/v"}, "voiceover": {"uri": "s3://b/a"}}},
        ["voiceover_uploaded", "succeeded"],
        recorded=["queued", "started"],
    ),
    "a TTSJob's audio is its voice-over": Case(
        Phase.RUNNING,
        {"phase": "Succeeded", "outputs": {"audio": {"uri": "s3://b/a.wav"}}},
        ["voiceover_uploaded", "succeeded"],
        recorded=["started"],
        kind="TTSJob",
    ),
    "voice-over listed while running": Case(
        Phase.RUNNING,
        {"phase": "Running", "progress": 5, "outputs": {"voiceover": {"uri": "s3://b/a"}}},
        ["voiceover_uploaded"],
        recorded=["started"],
    ),
    # The pod's final write (the audio listed) seen before its Job completes.
    "a TTSJob's audio listed while running": Case(
        Phase.RUNNING,
        {"phase": "Running", "outputs": {"audio": {"uri": "s3://b/a.wav"}}},
        ["voiceover_uploaded"],
        recorded=["queued", "started"],
        kind="TTSJob",
    ),
    "a narrated render's subtitles are not its voice-over": Case(
        Phase.RUNNING,
        {"phase": "Running", "outputs": {"subtitles": {"uri": "s3://b/s.ass"}}},
        [],
        recorded=["queued", "started"],
    ),
    "voice-over told once": Case(
        Phase.RUNNING,
        {"phase": "Succeeded", "outputs": {"voiceover": {"uri": "s3://b/a"}}},
        ["succeeded"],
        recorded=["started", "voiceover_uploaded"],
    ),
    "progress crosses 30": Case(
        Phase.RUNNING,
        {"phase": "Running", "progress": 37},
        ["progress@30"],
        recorded=["started", "progress@10"],
    ),
    "progress within the same step": Case(
        Phase.RUNNING, {"phase": "Running", "progress": 39}, [], recorded=["started", "progress@30"]
    ),
    "progress by 25": Case(
        Phase.RUNNING,
        {"phase": "Running", "progress": 74},
        ["progress@50"],
        recorded=["progress@25"],
        step=25,
    ),
    "progress 99 is the last milestone below completion": Case(
        Phase.RUNNING, {"phase": "Running", "progress": 99}, ["progress@90"], recorded=["progress@80"]
    ),
    "progress with the start in one observation": Case(
        Phase.QUEUED, {"phase": "Running", "progress": 12}, ["started", "progress@10"], recorded=["queued"]
    ),
    "no progress once done": Case(Phase.RUNNING, {"phase": "Succeeded", "progress": 100}, ["succeeded"]),
    "failed": Case(Phase.RUNNING, {"phase": "Failed"}, ["failed"], recorded=["started"]),
    "canceled while queued": Case(Phase.QUEUED, {"phase": "Canceled"}, ["canceled"], recorded=["queued"]),
    "a retry's pod waits: queued is not told again": Case(
        Phase.RUNNING, {"phase": "Queued", "attempts": 2}, [], recorded=["queued", "started"]
    ),
    "the retry runs: started is not told again": Case(
        Phase.QUEUED, {"phase": "Running", "attempts": 2}, [], recorded=["queued", "started"]
    ),
    "a failed delivery is not announced again": Case(
        Phase.RUNNING, {"phase": "Failed"}, [], recorded=["failed"]
    ),
    "only what is subscribed": Case(None, {"phase": "Queued"}, [], events=["succeeded", "failed"]),
    "subscribed to success only, queued to succeeded": Case(
        Phase.QUEUED, {"phase": "Succeeded"}, ["succeeded"], events=["succeeded"]
    ),
    "progress is opt-in": Case(
        Phase.RUNNING, {"phase": "Running", "progress": 50}, [], events=["started", "succeeded"]
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_due_events(name: str) -> None:
    case = CASES[name]
    webhook = WebhookSpec(url="https://example.invalid/h", events=case.events, progressStep=case.step)
    due = due_events(
        kind=case.kind,
        uid=UID,
        webhook=webhook,
        old_phase=case.old,
        status=ResourceStatus.model_validate(case.status),
        recorded={eid(r) for r in case.recorded},
    )
    expected = [(n.partition("@")[0], eid(n), n.partition("@")[2] or None) for n in case.due]
    assert [(a.event, a.id, a.occurrence) for a in due] == expected


def test_a_full_render_announces_each_event_once_in_order() -> None:
    # The statuses a watch sees for one narrated render, progress written every few percent;
    # each announcement is recorded before the next status, as the reconciler does.
    webhook = WebhookSpec(url="https://example.invalid/h", events=EVERY, progressStep=20)
    statuses: list[dict[str, Any]] = [
        {"phase": "Queued"},
        {"phase": "Queued"},
        {"phase": "Running", "progress": 0},
        *({"phase": "Running", "progress": p} for p in range(3, 100, 7)),
        {"phase": "Running", "progress": 99, "outputs": {"voiceover": {"uri": "s3://b/a"}}},
        {"phase": "Succeeded", "progress": 100, "outputs": {"voiceover": {"uri": "s3://b/a"}}},
        {"phase": "Succeeded", "progress": 100, "outputs": {"voiceover": {"uri": "s3://b/a"}}},
    ]
    recorded: set[str] = set()
    told: list[str] = []
    old: Phase | None = None
    for raw in statuses:
        status = ResourceStatus.model_validate(raw)
        for a in due_events(
            kind="RenderJob", uid=UID, webhook=webhook, old_phase=old, status=status, recorded=recorded
        ):
            recorded.add(a.id)
            told.append(a.event if a.occurrence is None else f"{a.event}@{a.occurrence}")
        old = status.phase
    assert told == [
        "queued",
        "started",
        "progress@20",
        "progress@40",
        "progress@60",
        "progress@80",
        "voiceover_uploaded",
        "succeeded",
    ]
