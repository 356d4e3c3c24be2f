"""Describing output files: content types, sizes and durations."""

from __future__ import annotations

from pathlib import Path

from reelkube.engine.artifacts import describe_file


def test_describe_file_content_types(tmp_path: Path) -> None:
    for name, expected in [
        ("a.ass", "text/x-ssa"),
        ("a.srt", "application/x-subrip"),
        ("t.json", "application/json"),
    ]:
        path = tmp_path / name
        path.write_text("x")
        described = describe_file(path)
        assert described.content_type == expected and described.size == 1 and described.duration is None
