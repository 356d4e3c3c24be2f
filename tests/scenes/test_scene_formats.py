"""Each scene-based example renders offline from the project's asset library (scaled down), no
scene silent or black, and its format's layout is where it should be: the listicle's number
badges, the comparison's two columns, the short's progress bar, hook and cuts, the sentences'
cuts at the voice-over's sentences; a scene's number and label in the corners."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api import RenderJob
from reelkube.api.output import OutputSpec
from reelkube.manifest import load_manifest
from reelkube.pipeline.render_job import render_job
from support.media import audio_rms, frames_at, region_mean, video_facts
from support.video_cuts import detected_cuts

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FPS = 15


def render_example(name: str, out: Path, width: int, height: int) -> tuple[Path, dict[str, Any]]:
    """Render examples/`name` at `width`x`height`, FPS; the video and its storyboard."""
    job: RenderJob = load_manifest(EXAMPLES / name)
    output = with_output(job, width=width, height=height, fps=FPS, preset="ultrafast")
    job = job.model_copy(update={"spec": job.spec.model_copy(update={"output": output})})
    result = render_job(job, out, base_dir=EXAMPLES)
    assert {"video", "storyboard", "storyboardSheet", "subtitles"} <= set(result.outputs)
    video = Path(result.outputs["video"].path)
    storyboard = json.loads(Path(result.outputs["storyboard"].path).read_text())
    facts = video_facts(video)
    assert (facts.width, facts.height) == (width, height)
    assert facts.frames == round(storyboard["duration"] * FPS)
    # No scene is silent or black: each is heard after its first word and lit in its middle.
    middles = {s["index"]: middle_frame(s) for s in storyboard["scenes"]}
    frames = frames_at(video, list(middles.values()))
    for scene in storyboard["scenes"]:
        assert frames[middles[scene["index"]]].mean() > 25, f"{name}: scene {scene['index']} is black"
        speech = scene["speechStart"]
        assert speech is not None, f"{name}: scene {scene['index']} has no narration"
        loud = audio_rms(video, speech, min(1.0, scene["end"] - speech))
        assert loud > 0.01, f"{name}: scene {scene['index']} is silent ({loud:.4f})"
    return video, storyboard


def with_output(job: RenderJob, **fields: Any) -> OutputSpec:
    """The job's output with `fields` changed (validated, so enums stay enums)."""
    return OutputSpec.model_validate(job.spec.output.model_dump() | fields)


def middle_frame(scene: dict[str, Any]) -> int:
    return round((scene["start"] + scene["end"]) / 2 * FPS)


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], float)


def test_listicle_number_badges(tmp_path: Path) -> None:
    """Each item shows its number (counting down) on a yellow badge at the top left; the intro
    shows none."""
    video, storyboard = render_example("listicle.yaml", tmp_path, 480, 270)
    scenes = storyboard["scenes"]
    assert [s["text"].get("number") for s in scenes] == [None, 3, 2, 1]
    frames = frames_at(video, [middle_frame(s) for s in scenes])
    yellow = hex_rgb("#ffd400")

    def badge_share(frame: np.ndarray) -> float:
        corner = frame[: frame.shape[0] // 4, : frame.shape[1] // 6].astype(float)
        return float(np.mean(np.all(np.abs(corner - yellow) <= 40, axis=2)))

    assert badge_share(frames[middle_frame(scenes[0])]) < 0.02
    for scene in scenes[1:]:
        frame = frames[middle_frame(scene)]
        assert badge_share(frame) > 0.15, scene["index"]
        # The rest of the top edge is the picture, not the badge.
        assert float(np.mean(np.all(np.abs(frame[:20, -80:].astype(float) - yellow) <= 40, axis=2))) < 0.05


def test_comparison_columns(tmp_path: Path) -> None:
    """While the rows show, A's picture (the orange desert) fills the left half and B's (the teal
    ocean) the right half, a light divider between them; each row's values sit in their halves,
    and the rows appear one at a time, each with its narration."""
    video, storyboard = render_example("comparison.yaml", tmp_path, 480, 270)
    subjects = {s["side"]: s["visual"].get("assetId") for s in storyboard["subjects"]}
    assert subjects == {"a": "desert", "b": "ocean"}
    last_row = storyboard["scenes"][-2]
    frame = frames_at(video, [middle_frame(last_row)])[middle_frame(last_row)]
    left = region_mean(frame, 0.75, 0.95, 0.0, 0.06)
    right = region_mean(frame, 0.75, 0.95, 0.94, 1.0)
    assert left[0] > left[2] + 40, left  # orange: red over blue
    assert right[2] > right[0] + 40, right  # teal: blue over red
    # 2 px at the middle, brighter than the pictures either side (chroma is blurred over 2 px).
    divider = frame[: frame.shape[0] // 5, 239:241].astype(float).mean()
    sides = [frame[: frame.shape[0] // 5, x : x + 2].astype(float).mean() for x in (228, 250)]
    assert divider > max(sides) + 30, (divider, sides)
    # The first row's text: white values in each half's middle and the yellow attribute between.
    top, height = round(270 * 0.2), round(270 * 0.48 / 4)
    band = frame[top : top + height].astype(float)
    white = np.all(band > 200, axis=2)
    yellow = np.all(np.abs(band - hex_rgb("#ffd400")) <= 50, axis=2)
    assert white[:, 60:180].sum() > 20 and white[:, 300:420].sum() > 20
    assert yellow[:, 200:280].sum() > 10 and yellow[:, :180].sum() == 0 and yellow[:, 300:].sum() == 0
    # The rows are revealed one at a time: while row k is narrated, rows up to k show their
    # attribute (yellow, in the middle) and the rows after it show nothing yet.
    rows = storyboard["scenes"][1:-1]
    assert len(rows) == 3
    frames = frames_at(video, [middle_frame(row) for row in rows])
    for shown, row in enumerate(rows):
        frame = frames[middle_frame(row)].astype(float)
        for number in range(len(rows)):
            band = frame[top + number * height : top + (number + 1) * height, 200:280]
            attribute = int(np.all(np.abs(band - hex_rgb("#ffd400")) <= 50, axis=2).sum())
            assert (attribute > 10) == (number <= shown), (shown, number, attribute)


def test_shorts_hook_progress_bar_and_cta(tmp_path: Path) -> None:
    """The hook is on screen in the first two seconds only, the bar along the top grows with the
    video, the picture cuts at every scene, and the last card is the call to action."""
    video, storyboard = render_example("shorts.yaml", tmp_path, 270, 480)
    assert [c["kind"] for c in storyboard["cards"]] == ["cta"]
    early, late = round(1.0 * FPS), round(storyboard["duration"] * FPS) - 3
    after_hook = round(2.5 * FPS)
    frames = frames_at(video, [early, after_hook, late])
    yellow = hex_rgb("#ffd400")

    def filled(frame: np.ndarray) -> float:
        bar = frame[:3].astype(float)
        return float(np.mean(np.all(np.abs(bar - yellow) <= 60, axis=2)))

    assert filled(frames[early]) < filled(frames[late])
    assert filled(frames[late]) > 0.9
    hook_band = (slice(round(480 * 0.15), round(480 * 0.35)), slice(None))
    hook_yellow = [float(np.mean(np.all(np.abs(frames[n][hook_band].astype(float) - yellow) <= 40, axis=2)))
                   for n in (early, after_hook)]  # fmt: skip
    assert hook_yellow[0] > 0.1 and hook_yellow[1] < 0.02, hook_yellow
    # A cut on every scene: each scene's start and the end card's are cuts in the video.
    scenes = storyboard["scenes"]
    assert len(scenes) == 3 and len({s["visual"].get("assetId") for s in scenes}) == 3
    cuts = detected_cuts(video)
    for scene in scenes[1:]:
        assert any(abs(cut - scene["start"]) <= 1 / FPS + 1e-6 for cut in cuts), (scene["start"], cuts)
    # The end card follows the busy pattern clip, whose every frame scores as a cut: the frame
    # after the cut is the brand colour (under the progress bar, above the text), the one before is not.
    end_card = round(storyboard["cards"][0]["start"] * FPS)
    around = frames_at(video, [end_card - 1, end_card + 1])
    brand = hex_rgb("#1f3a5f")  # the style's default primaryColor
    assert np.all(np.abs(region_mean(around[end_card + 1], 0.05, 0.12, 0.05, 0.95) - brand) <= 10)
    assert np.abs(region_mean(around[end_card - 1], 0.05, 0.12, 0.05, 0.95) - brand).max() > 30


def test_sentences_cut_where_the_voiceover_sentences_start(tmp_path: Path) -> None:
    """With a recorded voice-over, each scene starts where its sentence starts in the recording
    (the video is as long as the recording), and the given footage is used as given."""
    video, storyboard = render_example("sentences.yaml", tmp_path, 270, 480)
    scenes = storyboard["scenes"]
    assert storyboard["wordTimingSource"] == "estimated"
    assert [s["visual"]["source"] for s in scenes] == ["url", "url", "library"]
    voice = float(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(EXAMPLES / "assets" / "library" / "voiceover.m4a")],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    assert storyboard["duration"] == pytest.approx(voice, abs=0.01)
    assert [s["start"] for s in scenes[1:]] == [s["speechStart"] for s in scenes[1:]]
    # The scene score misses cuts out of the busy pattern clip (its every frame scores high), so
    # the frames either side of each planned cut are compared by their mean colour instead.
    for scene in scenes[1:]:
        cut = round(scene["start"] * FPS)
        frames = frames_at(video, [cut - 2, cut + 1])
        before, after = (frames[n].reshape(-1, 3).mean(axis=0) for n in (cut - 2, cut + 1))
        assert np.abs(before - after).max() > 25, (scene["start"], before, after)


def test_explainer_example_renders_in_portrait(tmp_path: Path) -> None:
    """The explainer example, asked for 9:16, keeps its scenes and lays them out upright."""
    job: RenderJob = load_manifest(EXAMPLES / "explainer.yaml")
    props = {**(job.spec.props or {}), "orientation": "portrait"}
    output = with_output(job, width=None, height=None, fps=FPS, preset="ultrafast")
    job = job.model_copy(update={"spec": job.spec.model_copy(update={"props": props, "output": output})})
    from reelkube.templates import get_template
    from reelkube.templates.base import TemplateContext
    from reelkube.templates.explainer import explainer_canvas

    template = get_template("explainer")
    canvas = explainer_canvas(template.parse_props(props), TemplateContext(output=output, workdir=tmp_path))
    assert (canvas.width, canvas.height) == (1080, 1920)
    small = OutputSpec.model_validate(output.model_dump() | {"width": 180, "height": 320})
    job = job.model_copy(update={"spec": job.spec.model_copy(update={"output": small})})
    result = render_job(job, tmp_path / "out", base_dir=EXAMPLES)
    storyboard = json.loads(Path(result.outputs["storyboard"].path).read_text())
    assert len(storyboard["scenes"]) == 4
    # The first scene's words match the (landscape) desert and the (portrait) energy glow equally
    # well: in portrait the portrait asset wins (the landscape example shows the desert).
    assert storyboard["scenes"][0]["visual"]["assetId"] == "energy-portrait"


@pytest.mark.parametrize(("template", "width", "height"), [("explainer", 320, 180), ("shorts", 180, 320)])
def test_a_scenes_number_and_label_are_drawn_in_the_corners(
    template: str, width: int, height: int, tmp_path: Path
) -> None:
    """A scene's `text.number` is a badge at the top left and its `text.label` a tag at the top
    right (both in the accent colour); a scene without them shows neither. Silent scenes (no
    Piper); the short's hook is gone after two seconds."""
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "corners"},
            "spec": {
                "template": template,
                "props": {
                    "scenes": [
                        {"duration": 3.0, "text": {"heading": "One", "number": 7, "label": "NEW"}},
                        {"duration": 1.5, "text": {"heading": "Two"}},
                    ],
                    "style": {"accentColor": "#ffd400", "captions": False},
                    ("cta" if template == "shorts" else "outro"): None,
                },
                "output": {"width": width, "height": height, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )
    result = render_job(job, tmp_path, base_dir=tmp_path)
    storyboard = json.loads(Path(result.outputs["storyboard"].path).read_text())
    assert storyboard["scenes"][0]["text"] == {"heading": "One", "number": 7, "label": "NEW"}
    marked, plain = round(2.5 * FPS), middle_frame(storyboard["scenes"][1])
    frames = frames_at(Path(result.outputs["video"].path), [marked, plain])
    yellow = hex_rgb("#ffd400")

    def yellow_pixels(frame: np.ndarray, left: int, right: int) -> int:
        corner = frame[6 : height // 6, left:right].astype(float)  # below the short's progress bar
        return int(np.all(np.abs(corner - yellow) <= 40, axis=2).sum())

    side = width // 4
    assert yellow_pixels(frames[marked], 0, side) > 150, "no number badge at the top left"
    assert yellow_pixels(frames[marked], width - side, width) > 15, "no label tag at the top right"
    assert (
        yellow_pixels(frames[plain], 0, side) == 0 and yellow_pixels(frames[plain], width - side, width) == 0
    )
