"""Fixtures of the engine tests: the planner's sample directory, and file servers.

The sample media themselves (``media``, made with ffmpeg) come from support.media.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.file_server import FileServer, serve_files
from support.media import SAMPLE_CAPTIONS


@pytest.fixture
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the planner tests' inputs lie: only captions.srt is there (the planner reads subtitle
    files); the media files are described by support.timelines.SAMPLE_PROBES and never opened."""
    root = tmp_path_factory.mktemp("sample")
    (root / "captions.srt").write_text(SAMPLE_CAPTIONS, encoding="utf-8")
    return root


@pytest.fixture
def file_server(media: dict[str, Path]) -> Iterator[FileServer]:
    """Serves the sample media; `/slow/<name>` waits 3 s before answering, `/trickle/<name>`
    sends a byte every 0.2 s, `/missing` is 404."""
    with serve_files(media["root"]) as server:
        yield server


@pytest.fixture
def empty_file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    """The same server over an empty directory, for refusals that need no media (no ffmpeg)."""
    with serve_files(tmp_path_factory.mktemp("served")) as server:
        yield server
