"""The progress line and its fields, the live lines of `submit --wait`, and the exit codes."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from rich.console import Console

from reelkube.api.status import ResourceStatus
from reelkube.client.progress_line import format_eta, progress_line, progress_view
from reelkube.commands.submit import (
    EXIT_CANCELED,
    EXIT_TIMEOUT,
    ProgressLines,
    exit_code,
    parse_duration,
    stop_waiting_message,
)


def status(**fields: Any) -> ResourceStatus:
    return ResourceStatus.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({}, "reel  Pending"),
        ({"phase": "Queued", "queuePosition": 3}, "reel  Queued  queue #3"),
        ({"phase": "Queued", "progress": 0}, "reel  Queued"),
        (
            {
                "phase": "Running",
                "step": "rendering",
                "progress": 42,
                "currentFrame": 126,
                "totalFrames": 300,
                "etaSeconds": 7,
            },
            "reel  Running  rendering  42%  frames 126/300  eta 7s",
        ),
        ({"phase": "Running", "step": "downloading", "progress": 3}, "reel  Running  downloading  3%"),
        (
            {"phase": "Succeeded", "step": "done", "progress": 100, "currentFrame": 300, "totalFrames": 300},
            "reel  Succeeded  100%  frames 300/300",
        ),
        (
            {"phase": "Failed", "reason": "InputNotFound", "message": "bg.jpg: 404"},
            "reel  Failed  InputNotFound: bg.jpg: 404",
        ),
        ({"phase": "Canceled", "reason": "CanceledByUser"}, "reel  Canceled  CanceledByUser"),
    ],
)
def test_progress_line(fields: dict[str, Any], line: str) -> None:
    assert progress_line("reel", status(**fields)) == line


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, ""), (-1, ""), (0, "0s"), (59.4, "59s"), (185, "3m05s"), (3720, "1h02m")]
)
def test_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


def test_queue_position_shows_only_while_waiting() -> None:
    assert progress_view(status(phase="Running", queuePosition=2)).queue == ""
    assert progress_view(status(phase="Queued", queuePosition=2)).queue == "#2"


def test_plain_lines_at_each_phase_step_and_tenth() -> None:
    stream = io.StringIO()
    with ProgressLines(stream, ["reel"]) as lines:
        for fields in (
            {"phase": "Queued"},
            {"phase": "Queued"},
            {"phase": "Running", "step": "rendering", "progress": 11},
            {"phase": "Running", "step": "rendering", "progress": 15},
            {"phase": "Running", "step": "rendering", "progress": 21},
            {"phase": "Succeeded", "step": "done", "progress": 100},
        ):
            lines.update("reel", status(**fields))
    assert stream.getvalue().splitlines() == [
        "reel  Queued",
        "reel  Running  rendering  11%",
        "reel  Running  rendering  21%",
        "reel  Succeeded  100%",
    ]


def test_terminal_lines_are_drawn_with_rich() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120, record=True)
    with ProgressLines(io.StringIO(), ["reel-a", "reel-b"], console=console) as lines:
        lines.update(
            "reel-a",
            status(
                phase="Running",
                step="rendering",
                progress=50,
                currentFrame=150,
                totalFrames=300,
                etaSeconds=9,
            ),
        )
        lines.update("reel-b", status(phase="Queued", queuePosition=1))
    text = console.export_text()
    assert "reel-a" in text and "rendering" in text and "50%" in text and "frames 150/300" in text
    assert "eta 9s" in text
    assert "reel-b" in text and "Queued" in text and "queue #1" in text


@pytest.mark.parametrize(
    ("results", "code"),
    [
        (["Succeeded"], 0),
        (["Succeeded", "Succeeded"], 0),
        (["Failed"], 1),
        (["Error"], 1),
        (["Canceled"], EXIT_CANCELED),
        (["Timeout"], EXIT_TIMEOUT),
        (["Succeeded", "Canceled", "Timeout"], EXIT_CANCELED),
        (["Timeout", "Failed", "Canceled"], 1),
        (["Succeeded", "Timeout"], EXIT_TIMEOUT),
    ],
)
def test_exit_code_the_worst_outcome_wins(results: list[str], code: int) -> None:
    assert exit_code(results) == code
    assert (EXIT_CANCELED, EXIT_TIMEOUT) == (3, 4)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5m", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_ctrl_c_says_how_to_cancel() -> None:
    class Stub:
        def __init__(self, name: str) -> None:
            self.name, self.namespace = name, "media"

    message = stop_waiting_message([Stub("a"), Stub("b")])  # type: ignore[list-item]
    assert message == "stopped waiting; the renders go on. To cancel them: reelkube cancel -n media a b"
