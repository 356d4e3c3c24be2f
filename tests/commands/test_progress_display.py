"""The progress display of `reelkube render` / `tts`: rich bars on a terminal, plain lines
elsewhere."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from reelkube.api.status import Step
from reelkube.commands.terminal import ProgressDisplay
from reelkube.progress_events import ProgressEvent
from support.tools import require_tool

EVENTS = [
    ProgressEvent(step=Step.DOWNLOADING, percent=50),
    ProgressEvent(step=Step.RENDERING, percent=3, frame=1, total_frames=30, eta_seconds=9),
    ProgressEvent(step=Step.RENDERING, percent=12, frame=4, total_frames=30, eta_seconds=8),
    ProgressEvent(step=Step.RENDERING, percent=55, frame=17, total_frames=30, eta_seconds=4),
    ProgressEvent(step=Step.RENDERING, percent=100, frame=30, total_frames=30, eta_seconds=0),
]


def test_plain_lines_every_ten_percent_and_each_step() -> None:
    stream = io.StringIO()
    with ProgressDisplay(stream) as display:
        for event in EVENTS:
            display(event)
    assert stream.getvalue().splitlines() == [
        "downloading 50%",
        "rendering 3% frame=1/30",
        "rendering 12% frame=4/30",
        "rendering 55% frame=17/30",
        "rendering 100% frame=30/30",
    ]


def test_a_terminal_gets_one_rich_bar_per_step() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    with ProgressDisplay(stream, console=console) as display:
        assert display.tty
        for event in EVENTS:
            display(event)
    screen = stream.getvalue()
    downloading, rendering = screen.rsplit("\x1b[2K", 1)[-1].splitlines()[:2]  # the last redraw
    assert downloading.startswith("downloading") and "100%" in downloading  # gave way: finished
    assert rendering.startswith("rendering") and "100%" in rendering and "30/30" in rendering
    assert "━" in screen  # drawn by rich's bar, not by hand
    assert "frame=" not in screen  # no plain lines on a terminal


@pytest.mark.slow
def test_render_in_a_real_terminal_draws_the_bar(tmp_path: Path) -> None:
    tmux = require_tool(shutil.which("tmux"), "tmux is not installed")
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "reelkube.io/v1alpha1",
                "kind": "RenderJob",
                "metadata": {"name": "bar"},
                "spec": {
                    "timeline": {
                        "width": 160, "height": 96, "fps": 10, "duration": 2,
                        "tracks": [{"clips": [{"type": "color", "color": "#336699", "duration": 2}]}],
                    },
                    "output": {"preset": "ultrafast", "thumbnail": False},
                },
            }
        )
    )  # fmt: skip
    session = f"reelkube-{tmp_path.name}"
    done = tmp_path / "exit-code"
    command = (
        f"{sys.executable} -m reelkube.cli render {manifest} -o {tmp_path / 'out'}; "
        f"echo $? > {done}; sleep 60"
    )
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "20", command], check=True)
    try:
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        screen = subprocess.run(
            [tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
        ).stdout
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], check=False)
    assert done.read_text().strip() == "0", screen
    bar = next(line for line in screen.splitlines() if line.startswith("rendering"))
    assert "━" in bar and "100%" in bar and "20/20" in bar, screen
    assert "frame=" not in screen  # the plain lines are for non-terminals
    assert "video: " in screen and "20 frames" in screen
