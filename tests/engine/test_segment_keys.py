"""Segment keys: a digest of what determines a segment's bytes (pure planning, no ffmpeg)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.engine.chunks import ENGINE_VERSION, input_digests, plan_segment, segment_key, split_windows
from reelkube.engine.probe import ResolvedInput
from support.timelines import sample_inputs, timeline

DIGESTS = {"image.jpg": "1" * 64, "tone.wav": "2" * 64, "clip.mp4": "3" * 64}


def _reel(title: str = "Golden hour", music_volume: float = 0.5, subtitle: str = "Later on") -> Timeline:
    """3 s at 30 fps: a zooming still, a title in the first second, a line in the last, music."""
    return timeline(
        [{"type": "image", "src": "image.jpg", "kenBurns": {"zoomEnd": 1.2}}],
        [{"type": "text", "text": title, "fontSize": 20, "start": 0, "duration": 0.9, "fadeIn": 0.3}],
        [{"type": "text", "text": subtitle, "fontSize": 16, "start": 2.2, "duration": 0.8}],
        [{"type": "audio", "src": "tone.wav", "volume": music_volume}],
        duration=3,
    )


def _keys(
    tl: Timeline, root: Path, workdir: Path, digests: dict[str, str] | None = None, **output: Any
) -> list[str]:
    inputs = sample_inputs(tl, root)
    spec = OutputSpec.model_validate(output)
    keys = []
    for window in split_windows(90, 30.0, 3):
        plan = plan_segment(
            tl,
            spec,
            inputs,
            window,
            workdir=workdir / f"w{window.index}",
            output_path=workdir / f"{window.index}.mp4",
        )
        keys.append(segment_key(plan, window, digests or DIGESTS))
    return keys


def test_same_plan_same_key_wherever_it_is_planned(sample_dir: Path, tmp_path: Path) -> None:
    here = _keys(_reel(), sample_dir, tmp_path / "one")
    there = _keys(_reel(), tmp_path / "elsewhere", tmp_path / "two" / "deeper")
    assert here == there
    assert len(set(here)) == 3  # each window is its own content
    assert all(len(key) == 64 and int(key, 16) >= 0 for key in here)


def test_a_title_that_shows_only_in_the_first_window_changes_only_its_key(
    sample_dir: Path, tmp_path: Path
) -> None:
    before = _keys(_reel(), sample_dir, tmp_path)
    after = _keys(_reel(title="Blue hour"), sample_dir, tmp_path)
    assert after[0] != before[0]
    assert after[1:] == before[1:]
    # ...and a line in the last second only the last window's.
    later = _keys(_reel(subtitle="Much later"), sample_dir, tmp_path)
    assert later[:2] == before[:2] and later[2] != before[2]


def test_music_changes_no_video_window(sample_dir: Path, tmp_path: Path) -> None:
    before = _keys(_reel(), sample_dir, tmp_path)
    assert _keys(_reel(music_volume=0.9), sample_dir, tmp_path) == before
    assert _keys(_reel(), sample_dir, tmp_path, {**DIGESTS, "tone.wav": "f" * 64}) == before


def test_what_every_window_draws_changes_every_key(sample_dir: Path, tmp_path: Path) -> None:
    before = _keys(_reel(), sample_dir, tmp_path)
    new_image = _keys(_reel(), sample_dir, tmp_path, {**DIGESTS, "image.jpg": "e" * 64})
    assert all(a != b for a, b in zip(before, new_image, strict=True))
    new_crf = _keys(_reel(), sample_dir, tmp_path, crf=28)
    assert all(a != b for a, b in zip(before, new_crf, strict=True))


def test_key_names_the_engine_version(sample_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    before = _keys(_reel(), sample_dir, tmp_path)
    monkeypatch.setattr("reelkube.engine.chunks.ENGINE_VERSION", ENGINE_VERSION + "-next")
    assert all(a != b for a, b in zip(before, _keys(_reel(), sample_dir, tmp_path), strict=True))


def test_input_digests_are_of_the_content(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"picture")
    (tmp_path / "copy.jpg").write_bytes(b"picture")
    inputs = {
        src: ResolvedInput(src=src, path=tmp_path / name, kind="image", size=7)
        for src, name in [("https://x/a.jpg", "a.jpg"), ("b.jpg", "copy.jpg")]
    }
    expected = hashlib.sha256(b"picture").hexdigest()
    assert input_digests(inputs) == {"https://x/a.jpg": expected, "b.jpg": expected}
