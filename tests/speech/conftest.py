"""Fixtures for the speech tests: one real Piper narration per session (synthesis is the slow
part), tiny media made with ffmpeg, and a loopback HTTP file server."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from reelkube.api.ttsjob import VoiceSpec
from reelkube.speech.narration import NarrationFiles, narrate

AWKWARD_SCRIPT = (
    "Mr. Smith met Dr. Jones at 3.14 p.m. in the U.S. on Tuesday, e.g. after lunch. "
    "It cost $1,000 in total... which was a lot! Really? Yes. "
    "Braces {like} this and back\\slashes must stay text."
)
SENTENCE_SILENCE = 0.25


def ffmpeg(*args: str) -> str:
    """Run ffmpeg; its stderr (where measurements are printed)."""
    return subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stderr


def integrated_lufs(path: Path) -> float:
    """Integrated loudness by ffmpeg's EBU R128 meter."""
    stderr = ffmpeg("-i", str(path), "-af", "ebur128", "-f", "null", "-")
    summary = stderr[stderr.rfind("Summary:") :]
    line = next(line for line in summary.splitlines() if line.strip().startswith("I:"))
    return float(line.split()[1])


def decode_mono(path: Path, rate: int) -> np.ndarray:
    """A file's audio as mono float32 at `rate` Hz."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


@pytest.fixture(scope="session")
def narration(tmp_path_factory: pytest.TempPathFactory) -> NarrationFiles:
    out = tmp_path_factory.mktemp("narration")
    return narrate(AWKWARD_SCRIPT, VoiceSpec(sentenceSilence=SENTENCE_SILENCE), out, loudness_lufs=-16.0)


@pytest.fixture(scope="session")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, directory): a real HTTP server on 127.0.0.1 serving the directory."""
    root = tmp_path_factory.mktemp("served")

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
