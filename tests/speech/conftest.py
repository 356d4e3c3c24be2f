"""Fixtures of the speech tests: a loopback HTTP file server for scripts fetched by URL.

The session's narration (``narration``) comes from support.narration, ffmpeg's measurements from
support.media.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.file_server import serve_files


@pytest.fixture(scope="session")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, directory): a real HTTP server on 127.0.0.1 serving the directory."""
    with serve_files(tmp_path_factory.mktemp("served")) as server:
        yield server.url, server.root
