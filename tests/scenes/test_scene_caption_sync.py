"""Narration and captions in sync, measured on the rendered video: the highlighted word (drawn in
the accent colour) moves on at each word's start from the word timings, within one frame, and
nowhere else; and each scene's voice is heard from its first word's start.

The brief matches nothing in an empty library, so every scene is a dark fallback card with white
text, and the only accent-coloured pixels in the frame are the spoken word's."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api.renderjob import RenderJob
from reelkube.pipeline.render_job import render_job
from support.media import decode_mono

pytestmark = pytest.mark.slow

FPS = 15
WIDTH, HEIGHT = 480, 270
CAPTION_BAND = 0.6
"""The captions sit below this share of the height."""
MIX_RATE = 16_000
SCRIPT = "Quantum gadgets hum quietly inside tiny thimbles. Nobody hears them sing at night."


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """(video, storyboard, words on the video's clock) of a two-scene explainer without cards."""
    out = tmp_path_factory.mktemp("caption-sync")
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "sync"},
            "spec": {
                "template": "explainer",
                "props": {"script": SCRIPT, "outro": None, "style": {"accentColor": "#ffd400"}},
                "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )
    result = render_job(job, out, base_dir=out)
    storyboard = json.loads(Path(result.outputs["storyboard"].path).read_text())
    timings = json.loads(Path(result.outputs["timings"].path).read_text())
    words = [word for sentence in timings["sentences"] for word in sentence["words"]]
    return Path(result.outputs["video"].path), storyboard, words


def highlight_positions(video: Path) -> list[tuple[int, float, float]]:
    """Per frame of the caption band: (accent pixels, their mean x, their mean y)."""
    top = round(HEIGHT * CAPTION_BAND)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"crop={WIDTH}:{HEIGHT - top}:0:{top}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT - top, WIDTH, 3).astype(int)
    positions = []
    for frame in frames:
        red, green, blue = frame[..., 0], frame[..., 1], frame[..., 2]
        ys, xs = np.nonzero((red > 170) & (green > 130) & (blue < 110))
        positions.append(
            (len(xs), float(xs.mean()) if len(xs) else 0.0, float(ys.mean()) if len(ys) else 0.0)
        )
    return positions


def highlight_changes(positions: list[tuple[int, float, float]], min_pixels: int = 8) -> list[int]:
    """Frames where a highlighted word appears, or the highlight moves to another word."""
    changes = []
    for number in range(1, len(positions)):
        count, x, y = positions[number]
        before, bx, by = positions[number - 1]
        if count < min_pixels:
            continue
        if before < min_pixels or math.hypot(x - bx, y - by) > 3:
            changes.append(number)
    if positions and positions[0][0] >= min_pixels:
        changes.insert(0, 0)
    return changes


def first_frame_at(seconds: float) -> int:
    """The first frame shown at or after `seconds` (subtitle times are kept in centiseconds)."""
    return math.ceil(round(seconds, 2) * FPS - 1e-6)


def test_the_highlight_moves_on_at_each_words_start_within_a_frame(
    rendered: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    video, _, words = rendered
    assert len(words) == len(SCRIPT.split())
    changes = highlight_changes(highlight_positions(video))
    expected = [first_frame_at(word["start"]) for word in words]
    # A word that starts in the same frame as the one before it cannot be seen on its own.
    visible = [frame for n, frame in enumerate(expected) if n == 0 or frame != expected[n - 1]]
    assert len(visible) >= len(words) - 2, expected
    for word, frame in zip(words, expected, strict=True):
        if frame in visible:
            assert any(abs(change - frame) <= 1 for change in changes), (word, frame, changes)
    for change in changes:
        assert any(abs(change - frame) <= 1 for frame in visible), (change, visible)


def test_each_scenes_voice_is_heard_from_its_first_word(
    rendered: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    video, storyboard, words = rendered
    audio = decode_mono(video, MIX_RATE)
    window = MIX_RATE // 100  # 10 ms
    levels = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    for scene in storyboard["scenes"]:
        first = min(w["start"] for w in words if scene["start"] <= w["start"] < scene["end"])
        assert first == pytest.approx(scene["speechStart"], abs=0.1)
        # Quiet from the cut until just before the first word, and the voice within a frame after it.
        quiet = levels[round(scene["start"] * 100) : round((first - 1 / FPS) * 100)]
        assert quiet.size and quiet.max() < 0.01, (scene["index"], float(quiet.max()))
        onset = levels[round(first * 100) : round((first + 1 / FPS) * 100)]
        assert onset.max() > 0.02, (scene["index"], float(onset.max()))
