"""Scene-based formats rendered for real (small frames, a few seconds): the cuts in the video
are the storyboard's boundaries, no scene is silent or black, a query with no match shows its
fallback card, the captions follow the word timings, the contact sheet has one tile per scene,
and `reelkube storyboard` writes the same plan without rendering."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api.renderjob import RenderJob
from reelkube.pipeline.render_job import render_job
from reelkube.scenes.contact_sheet import grid, tile_size
from support.media import audio_rms, frames_at, read_image, region_mean, video_facts
from support.video_cuts import detected_cuts

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FPS = 15
SCRIPT = (
    "The ocean makes half of the oxygen we breathe.\n\n"
    "Tomorrow's quantum gadgets will hum quietly inside thimbles.\n\n"
    "Snow falls on the mountain peaks all winter long."
)
"""Three scenes: the ocean and mountain match the example library; the middle one matches nothing."""
PRIMARY = "#224466"


def explainer_job(**props: Any) -> RenderJob:
    """A small explainer over the example library (relative paths resolve against examples/)."""
    return RenderJob.model_validate(
        {
            "metadata": {"name": "scenes"},
            "spec": {
                "template": "explainer",
                "props": {
                    "title": "Three places",
                    "outro": "The end",
                    "script": SCRIPT,
                    "library": {"indexUrl": "assets/library/index.yaml"},
                    "style": {"primaryColor": PRIMARY, "tintOpacity": 0.0},
                    **props,
                },
                "output": {"width": 320, "height": 180, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )


@pytest.fixture(scope="module")
def explainer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The rendered explainer: (output folder, storyboard, the result's outputs)."""
    out = tmp_path_factory.mktemp("explainer")
    result = render_job(explainer_job(), out, base_dir=EXAMPLES)
    storyboard = json.loads((out / "storyboard.json").read_text())
    return out, storyboard, {key: Path(value.path) for key, value in result.outputs.items()}


def boundaries(storyboard: dict[str, Any]) -> list[float]:
    """Every cut the plan makes: between cards and scenes, in time order (not 0, not the end)."""
    starts = [c["start"] for c in storyboard["cards"]] + [s["start"] for s in storyboard["scenes"]]
    return sorted(t for t in starts if t > 0)


def test_outputs_list_the_storyboard(explainer: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, storyboard, outputs = explainer
    assert {"video", "storyboard", "storyboardSheet", "voiceover", "subtitles", "timings"} <= set(outputs)
    assert outputs["storyboard"].name == "storyboard.json"
    assert outputs["storyboardSheet"].name == "storyboard.png"
    assert len(storyboard["scenes"]) == 3
    assert [c["kind"] for c in storyboard["cards"]] == ["title", "outro"]
    assert [s["visual"]["source"] for s in storyboard["scenes"]] == ["library", "fallback", "library"]
    assert [s["visual"].get("assetId") for s in storyboard["scenes"]] == ["ocean", None, "mountain"]
    assert storyboard["scenes"][0]["visual"]["attribution"]
    # Each scene: its times, narration, on-screen text and the chosen asset with its score.
    for scene, sentence in zip(storyboard["scenes"], SCRIPT.split("\n\n"), strict=True):
        assert 0 < scene["start"] < scene["speechStart"] < scene["end"] <= storyboard["duration"]
        assert scene["narration"] == sentence and scene["text"]["heading"]
        if scene["visual"]["source"] == "library":
            assert scene["visual"]["score"] > 0 and scene["visual"]["src"].startswith("assets/library/")


def test_cuts_in_the_video_are_the_storyboards_boundaries(
    explainer: tuple[Path, dict[str, Any], dict[str, Any]],
) -> None:
    _, storyboard, outputs = explainer
    facts = video_facts(outputs["video"])
    assert facts.frames == round(storyboard["duration"] * FPS)
    planned = boundaries(storyboard)
    cuts = detected_cuts(outputs["video"])
    frame = 1 / FPS
    # Every planned boundary is a cut within a frame, and there is no cut elsewhere.
    for boundary in planned:
        assert any(abs(cut - boundary) <= frame + 1e-6 for cut in cuts), (boundary, cuts)
    for cut in cuts:
        assert any(abs(cut - boundary) <= frame + 1e-6 for boundary in planned), (cut, planned)


def test_no_scene_is_silent_or_black(explainer: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, storyboard, outputs = explainer
    video = outputs["video"]
    middles = {s["index"]: round((s["start"] + s["end"]) / 2 * FPS) for s in storyboard["scenes"]}
    frames = frames_at(video, list(middles.values()))
    for scene in storyboard["scenes"]:
        speech = scene["speechStart"]
        assert audio_rms(video, speech, min(1.0, scene["end"] - speech)) > 0.01, scene["index"]
        assert frames[middles[scene["index"]]].mean() > 25, f"scene {scene['index']} is black"


def test_a_query_without_a_match_renders_its_fallback_card(
    explainer: tuple[Path, dict[str, Any], dict[str, Any]],
) -> None:
    _, storyboard, outputs = explainer
    card = storyboard["scenes"][1]
    color = card["visual"]["color"]
    expected = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    frame_number = round((card["start"] + card["end"]) / 2 * FPS)
    frame = frames_at(outputs["video"], [frame_number])[frame_number]
    # The top band holds no text: the card's colour (within the encoder's rounding).
    assert np.all(np.abs(region_mean(frame, 0.02, 0.15, 0.02, 0.98) - expected) <= 10)
    assert card["narration"] and card["visual"]["query"]


def test_captions_follow_the_word_timings(explainer: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    out, _, outputs = explainer
    timings = json.loads(outputs["timings"].read_text())
    word_starts = [w["start"] for s in timings["sentences"] for w in s["words"]]
    events = re.findall(
        r"^Dialogue: \d+,(\d+):(\d+):(\d+\.\d+),", outputs["subtitles"].read_text(), re.MULTILINE
    )
    starts = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in events]
    assert starts
    # Each highlight starts with its word (a page's first word with the page), within a frame.
    for start in starts:
        assert min(abs(start - w) for w in word_starts) <= 1 / FPS + 0.01, start


def test_contact_sheet_has_one_tile_per_scene(explainer: tuple[Path, dict[str, Any], dict[str, Any]]) -> None:
    _, storyboard, outputs = explainer
    sheet = read_image(outputs["storyboardSheet"])
    width, height = tile_size(320, 180)
    columns, rows = grid(len(storyboard["scenes"]))
    margin, padding = 6, 6
    assert sheet.shape[:2] == (2 * margin + rows * height + (rows - 1) * padding,
                               2 * margin + columns * width + (columns - 1) * padding)  # fmt: skip
    lit = 0
    band = max(18, height // 9)
    for column in range(columns):
        left = margin + column * (width + padding)
        tile = sheet[margin : margin + height, left : left + width]
        lit += int(np.abs(tile.astype(int) - [32, 32, 32]).mean() > 10)  # not the sheet's background
        # Each tile is labelled: white text (its number, times and words) in its bottom band.
        label = tile[height - band :]
        assert int(np.all(label > 200, axis=2).sum()) > 30, f"tile {column + 1} has no label"
    assert lit == len(storyboard["scenes"])


def test_storyboard_command_plans_without_rendering(tmp_path: Path) -> None:
    job = explainer_job(library={"indexUrl": str(EXAMPLES / "assets" / "library" / "index.yaml")})
    manifest = tmp_path / "explainer.yaml"
    manifest.write_text(json.dumps(job.model_dump(mode="json", exclude_none=True)))
    proc = subprocess.run(
        [sys.executable, "-m", "reelkube.cli", "storyboard", str(manifest), "-o", str(tmp_path / "plan"),
         "--estimate"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    storyboard = json.loads((tmp_path / "plan" / "storyboard.json").read_text())
    assert len(storyboard["scenes"]) == 3 and storyboard["wordTimingSource"] == "estimated"
    assert storyboard["scenes"][0]["visual"]["src"].endswith("assets/library/ocean.jpg")
    assert (tmp_path / "plan" / "storyboard.png").stat().st_size > 0
    assert not list((tmp_path / "plan").glob("*.mp4"))


def test_a_scene_entering_by_a_fade_starts_it_on_its_planned_frame(tmp_path: Path) -> None:
    """Two silent fallback cards, the second entering by a fade: the first card holds to the cut,
    the fade runs from the second scene's planned start for the transition's length, and the
    video is as long as the plan."""
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "fade"},
            "spec": {
                "template": "explainer",
                "props": {
                    "scenes": [{"duration": 1.9, "layout": "card"},
                               {"duration": 1.7, "layout": "card", "transition": "fade"}],
                    "outro": None,
                    "style": {"primaryColor": "#80c0ff", "captions": False},
                },
                "output": {"width": 320, "height": 180, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )  # fmt: skip
    result = render_job(job, tmp_path, base_dir=tmp_path)
    storyboard = json.loads((tmp_path / "storyboard.json").read_text())
    first, second = storyboard["scenes"]
    assert (first["start"], second["start"], storyboard["duration"]) == (0.0, 1.9, 3.6)
    assert video_facts(result.outputs["video"].path).frames == round(3.6 * FPS)
    colours = [
        np.array([int(s["visual"]["color"][i : i + 2], 16) for i in (1, 3, 5)]) for s in (first, second)
    ]
    cut, overlap = round(1.9 * FPS), round(0.4 * FPS)
    frames = frames_at(result.outputs["video"].path, [cut - 1, cut + overlap // 2, cut + overlap + 1])

    def top(number: int) -> np.ndarray:
        return region_mean(frames[number], 0.02, 0.15, 0.02, 0.98)

    assert np.all(np.abs(top(cut - 1) - colours[0]) <= 10), top(cut - 1)
    assert np.all(np.abs(top(cut + overlap + 1) - colours[1]) <= 10), top(cut + overlap + 1)
    # Halfway through the fade: between the two colours, near their mean.
    assert np.all(
        np.abs(top(cut + overlap // 2) - (colours[0] + colours[1]) / 2)
        <= 0.3 * np.abs(colours[0] - colours[1]) + 6
    )
