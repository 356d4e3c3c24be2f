"""Frame windows and chunk counts (pure, no ffmpeg)."""

from __future__ import annotations

import pytest

from reelkube.api.output import Format, OutputSpec
from reelkube.engine.chunks import Window, chunk_count, split_windows
from reelkube.engine.render import local_workers


@pytest.mark.parametrize(
    ("duration", "requested", "kwargs", "expected"),
    [
        (60.0, None, {}, 1),
        (60.0, 1, {}, 1),
        (60.0, 4, {}, 4),
        (60.0, 20, {}, 8),  # capped by max_chunks
        (60.0, 20, {"max_chunks": 16}, 16),
        (3.5, 8, {}, 3),  # never shorter than a second per chunk
        (0.4, 8, {}, 1),
        (60.0, "auto", {}, 6),  # at least 10 s per chunk
        (9.9, "auto", {}, 1),
        (600.0, "auto", {}, 8),
        (60.0, "auto", {"min_seconds": 20.0}, 3),
        (60.0, "auto", {"max_chunks": 2}, 2),
        (60.0, 4, {"format": Format.MP4}, 4),
        (60.0, 4, {"format": Format.GIF}, 1),
        (60.0, "auto", {"format": Format.WEBM}, 1),
        (60.0, 4, {"format": Format.PNG}, 1),
    ],
)
def test_chunk_count(duration: float, requested: int | str | None, kwargs: dict, expected: int) -> None:
    assert chunk_count(duration, requested, **kwargs) == expected  # type: ignore[arg-type]


def test_chunk_count_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        chunk_count(60.0, 0)


@pytest.mark.parametrize(
    ("total", "chunks"), [(300, 1), (300, 2), (301, 4), (7, 3), (1, 1), (5, 8), (1800, 8)]
)
def test_windows_are_contiguous_and_cover_every_frame(total: int, chunks: int) -> None:
    windows = split_windows(total, 30.0, chunks)
    assert len(windows) == min(chunks, total)
    assert windows[0].first == 0 and windows[-1].last == total
    for i, (a, b) in enumerate(zip(windows, windows[1:], strict=False)):
        assert a.index == i and b.index == i + 1
        assert a.last == b.first
    assert all(w.frames >= 1 for w in windows)
    sizes = [w.frames for w in windows]
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == total


def test_windows_of_a_known_split() -> None:
    assert split_windows(10, 10.0, 3) == [Window(0, 0, 3), Window(1, 3, 6), Window(2, 6, 10)]


def test_windows_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        split_windows(0, 30.0, 2)
    with pytest.raises(ValueError):
        split_windows(30, 0.0, 2)


@pytest.mark.parametrize(
    ("duration", "requested", "output", "cores", "expected"),
    [
        (10.0, "auto", {}, 2, 1),  # the example reel stays one process
        (20.0, "auto", {}, 2, 2),
        (60.0, "auto", {}, 2, 2),
        (60.0, "auto", {}, 16, 6),  # at least 10 s per window
        (60.0, "auto", {"gpu": True}, 16, 1),
        (60.0, "auto", {"format": "gif"}, 16, 1),
        (60.0, 1, {}, 16, 1),
        (60.0, 8, {}, 2, 8),  # a number asked for is a number given
        (3.0, 8, {}, 2, 3),  # never under a second per window
        (60.0, 4, {"format": "webm"}, 2, 1),
    ],
)
def test_local_workers(
    duration: float,
    requested: int | str,
    output: dict,
    cores: int,
    expected: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("reelkube.engine.render.os.cpu_count", lambda: cores)
    spec = OutputSpec.model_validate(output)
    assert local_workers(duration, spec, requested) == expected  # type: ignore[arg-type]
