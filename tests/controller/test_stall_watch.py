"""The stall watch's suspects: Running resources whose last progress report is older than the
limit (the decision then judges each with its pods; see test_decision)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reelkube.api.kinds import RENDER_JOB
from reelkube.controller.stall_watch import stall_suspects
from support.resources import resource_body

NOW = datetime(2025, 1, 1, 0, 12, tzinfo=UTC)


def named(name: str, status: dict[str, Any]) -> dict[str, Any]:
    body = resource_body(status=status)
    body["metadata"]["name"] = name
    return body


def test_suspects_are_running_and_silent_past_the_limit() -> None:
    bodies = [
        named("silent", {"phase": "Running", "lastProgressTime": "2025-01-01T00:01:00Z"}),
        named("talking", {"phase": "Running", "lastProgressTime": "2025-01-01T00:11:30Z"}),
        named("unreported", {"phase": "Running"}),
        named("queued", {"phase": "Queued", "lastProgressTime": "2025-01-01T00:01:00Z"}),
        named("done", {"phase": "Succeeded", "lastProgressTime": "2025-01-01T00:01:00Z"}),
        named("garbled", {"phase": "Running", "lastProgressTime": "yesterday"}),
    ]
    assert stall_suspects(RENDER_JOB, bodies, NOW, 600) == [("RenderJob", "media", "silent")]
    assert stall_suspects(RENDER_JOB, bodies, NOW, 0) == []
