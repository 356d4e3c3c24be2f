"""The examples render with real ffmpeg: exact sizes, rates, frame counts and pixels.

Most renders are scaled down through output overrides (the assertions are about timing and
colour, not size); one renders the captioned reel exactly as shipped.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api import RenderJob
from reelkube.api.output import Format
from reelkube.manifest import load_manifest
from reelkube.pipeline.render_job import render_job
from support.media import audio_rms, bright_mask, frames_at, read_image, region_mean, video_facts

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SLIDE_COLORS = [(220, 60, 50), (40, 170, 90), (40, 90, 210), (235, 190, 40)]
"""Flat colours of examples/assets/slide-1..4.jpg (see make_assets.py)."""


def load_example(name: str, props: dict[str, Any] | None = None, **output: Any) -> RenderJob:
    """An example manifest, with props merged over its own and output fields overridden."""
    job: RenderJob = load_manifest(EXAMPLES / name)
    updates: dict[str, Any] = {"output": job.spec.output.model_copy(update=output)}
    if props:
        updates["props"] = {**(job.spec.props or {}), **props}
    return job.model_copy(update={"spec": job.spec.model_copy(update=updates)})


def render_example(job: RenderJob, out_dir: Path) -> Path:
    """Render `job` with assets resolved against examples/, returning its main output file."""
    events: list[Any] = []
    result = render_job(job, out_dir, base_dir=EXAMPLES, on_progress=events.append)
    assert events, "the engine reports progress while rendering"
    for key in ("video", "image"):
        if key in result.outputs:
            path = Path(result.outputs[key].path)
            assert path.is_file() and path.stat().st_size > 0
            return path
    raise AssertionError(f"no video or image output among {sorted(result.outputs)}")


def close_to(actual: np.ndarray, expected: tuple[int, int, int] | np.ndarray, tolerance: float) -> bool:
    return bool(np.all(np.abs(np.asarray(actual, float) - np.asarray(expected, float)) <= tolerance))


def test_captioned_reel_as_shipped(tmp_path: Path) -> None:
    """1080x1920, 300 frames at 30 fps; no text before 0.5 s; the title fades and slides in."""
    video = render_example(load_example("captioned-reel.yaml"), tmp_path)
    facts = video_facts(video)
    assert (facts.codec, facts.width, facts.height) == ("h264", 1080, 1920)
    assert facts.fps == Fraction(30) and facts.frames == 300
    assert facts.duration == pytest.approx(10.0, abs=0.05)
    assert facts.pix_fmt == "yuv420p"

    frames = frames_at(video, [0, 14, 27, 33, 90, 299])
    # Under a 35% black tint the background has no near-white pixels: bright pixels are text.
    for early in (0, 14):
        assert bright_mask(frames[early]).sum() == 0, f"text visible at frame {early}"
    title_band = (slice(700, 960), slice(0, 1080))  # above the centre, where the title sits
    subtitle_band = (slice(990, 1180), slice(0, 1080))
    settled = bright_mask(frames[90])
    assert settled[title_band].sum() > 2000, "title drawn once faded in"
    assert settled[subtitle_band].sum() > 500, "subtitle drawn once faded in"
    assert bright_mask(frames[33])[subtitle_band].sum() == 0, "subtitle waits until 1.3 s"
    assert bright_mask(frames[299])[title_band].sum() > 2000, "title stays to the end"

    # Mid-fade the title is fainter, and lower (it slides up into place).
    def title_pixels(index: int) -> np.ndarray:
        difference = np.abs(frames[index].astype(int) - frames[0].astype(int)).sum(axis=2) > 60
        difference[:600] = False
        difference[990:] = False
        return difference

    assert frames[27][title_band].max() < frames[90][title_band].max()
    rows_mid = np.nonzero(title_pixels(27))[0]
    rows_settled = np.nonzero(title_pixels(90))[0]
    assert rows_mid.size and rows_settled.size
    assert rows_mid.mean() - rows_settled.mean() > 10


def test_overlay_darkens_the_background_by_its_opacity(tmp_path: Path) -> None:
    small = {"width": 270, "height": 480}
    tinted = load_example("captioned-reel.yaml", {"durationSeconds": 2, "overlayOpacity": 0.35}, **small)
    plain = load_example("captioned-reel.yaml", {"durationSeconds": 2, "overlayOpacity": 0}, **small)
    tinted_frame = frames_at(render_example(tinted, tmp_path / "tinted"), [0])[0]
    plain_frame = frames_at(render_example(plain, tmp_path / "plain"), [0])[0]
    # The top fifth holds no text; compare it channel by channel.
    ratio = region_mean(tinted_frame, 0.02, 0.2, 0.05, 0.95) / region_mean(plain_frame, 0.02, 0.2, 0.05, 0.95)
    assert ratio == pytest.approx([0.65, 0.65, 0.65], abs=0.05)


def test_captioned_reel_over_a_video_background(tmp_path: Path) -> None:
    props = {"durationSeconds": 3, "backgroundUrl": "assets/clip.mp4"}
    job = load_example("captioned-reel.yaml", props, width=270, height=480)
    video = render_example(job, tmp_path)
    facts = video_facts(video)
    assert (facts.width, facts.height, facts.frames) == (270, 480, 90)  # the 2 s clip loops to 3 s
    frames = frames_at(video, [10, 80])
    assert frames[80].std() > 20, "the looped video still shows its pattern after 2 s"


def test_slideshow_fades_between_distinct_slides(tmp_path: Path) -> None:
    video = render_example(load_example("slideshow.yaml", width=320, height=180), tmp_path)
    facts = video_facts(video)
    assert (facts.width, facts.height, facts.fps, facts.frames) == (320, 180, Fraction(30), 315)
    assert facts.duration == pytest.approx(10.5, abs=0.05)
    assert facts.audio_codec == "aac"
    assert facts.audio_duration == pytest.approx(10.5, abs=0.1)

    # Slide k is alone on screen from frame 75k+15 to 75k+75; the transition into it spans 75k..75k+15.
    held = {45: 0, 70: 0, 95: 1, 120: 1, 195: 2, 277: 3, 314: 3}
    middles = {82: (0, 1), 157: (1, 2), 232: (2, 3)}
    frames = frames_at(video, [*held, *middles])
    corner = (0.05, 0.3, 0.05, 0.3)  # clear of the centred title and the numbers at bottom right
    for index, slide in held.items():
        colour = region_mean(frames[index], *corner)
        assert close_to(colour, SLIDE_COLORS[slide], 20), f"frame {index}: {colour} is not slide {slide + 1}"
    for index, (before, after) in middles.items():
        colour = region_mean(frames[index], *corner)
        blend = (np.array(SLIDE_COLORS[before]) + np.array(SLIDE_COLORS[after])) / 2
        # Half-way through a 15-frame fade: within a frame's worth (1/15) of an even blend.
        assert close_to(colour, blend, 25), f"frame {index}: {colour} is not a blend ~{blend}"

    # The music fades out: the last quarter second is far quieter than the middle.
    assert audio_rms(video, 10.2, 0.25) < 0.3 * audio_rms(video, 5.0, 1.0)


def test_static_ad_is_a_png_with_the_brand_colour_and_product(tmp_path: Path) -> None:
    image_path = render_example(load_example("static-ad.yaml"), tmp_path)
    assert image_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = read_image(image_path)
    assert pixels.shape == (1080, 1080, 3)
    brand = (0x1F, 0x4F, 0xD1)
    for y, x in [(4, 4), (4, 1075), (1075, 4), (1075, 1075)]:
        assert close_to(pixels[y, x], brand, 6), f"corner ({x},{y}) is {pixels[y, x]}"
    # The 800x800 product is contained in the 864x540 box at (108,65): scaled to 540x540 at x=270.
    assert close_to(pixels[335, 540], (255, 120, 60), 30), "label band at the product's centre"
    headline_rows = bright_mask(pixels)[650:760, :]
    assert headline_rows.sum() > 1000, "white headline under the product"


def test_static_ad_product_transparency_shows_the_brand_colour(tmp_path: Path) -> None:
    pixels = read_image(render_example(load_example("static-ad.yaml"), tmp_path))
    # Left of the bottle, inside the contain box (x 270..810) where product.png is transparent.
    assert close_to(pixels[335, 300], (0x1F, 0x4F, 0xD1), 10), f"transparent area is {pixels[335, 300]}"


def test_static_ad_as_jpeg(tmp_path: Path) -> None:
    job = load_example("static-ad.yaml", format=Format.JPEG, width=540, height=540)
    image_path = render_example(job, tmp_path)
    assert image_path.read_bytes()[:3] == b"\xff\xd8\xff"
    pixels = read_image(image_path)
    assert pixels.shape == (540, 540, 3)
    assert close_to(pixels[3, 3], (0x1F, 0x4F, 0xD1), 12)


def test_timeline_example(tmp_path: Path) -> None:
    video = render_example(load_example("timeline.yaml", width=640, height=360), tmp_path)
    facts = video_facts(video)
    assert (facts.width, facts.height, facts.fps, facts.frames) == (640, 360, Fraction(30), 180)
    assert facts.audio_codec == "aac"
    frames = frames_at(video, [30, 150])
    assert close_to(region_mean(frames[30], 0.05, 0.3, 0.05, 0.3), SLIDE_COLORS[2], 20), "the image first"
    assert frames[150][: int(360 * 0.7)].std() > 30, "then the video's test pattern"
