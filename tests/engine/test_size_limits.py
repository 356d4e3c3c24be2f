"""Size bombs: pictures over inputLimits.maxPixels are refused from their header, before anything
decodes them, and outputs over spec.output's duration and frame caps are refused at validation
(when the spec fixes the length) or at planning (before ffmpeg starts).

The cap tests are pure (fake probes, no media); the picture tests run ffprobe on crafted PNGs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reelkube.api.common import DEFAULT_MAX_PIXELS, InputLimits
from reelkube.api.output import OutputSpec, known_length, output_length_error
from reelkube.api.renderjob import RenderJobSpec
from reelkube.engine.inputs import fetch_one
from reelkube.engine.plan import build_plan
from reelkube.engine.probe import MediaInfo, ResolvedInput, check_pixels, probe_media
from reelkube.engine.render import render_timeline
from reelkube.errors import InputTooLarge, OutputTooLong, SpecError
from support.media import png_bomb
from support.timelines import plan_for, timeline

TEN_HOURS = 36_000.0


# --- output caps -------------------------------------------------------------------------------


def render_spec(clips: list[dict[str, Any]], output: dict[str, Any] | None = None, **fields: Any) -> dict:
    return {
        "timeline": {"fps": 30, **fields, "tracks": [{"clips": clips}]},
        "output": output or {},
    }


def test_a_ten_hour_timeline_is_refused_at_validation_naming_the_cap() -> None:
    with pytest.raises(
        ValidationError, match=r"36,000 s, over the cap spec\.output\.maxDurationSeconds=3,600"
    ):
        RenderJobSpec.model_validate(render_spec([{"type": "color", "color": "#000000"}], duration=TEN_HOURS))


@pytest.mark.parametrize(
    ("name", "clips", "fields", "seconds"),
    [
        ("timeline duration", [{"type": "color", "color": "#000000"}], {"duration": 12.5}, 12.5),
        ("clip ends", [{"type": "color", "color": "#000000", "start": 4, "duration": 6}], {}, 10.0),
        (
            "clips one after another",
            [{"type": "color", "color": "#000000", "duration": 5}] * 3,
            {},
            15.0,
        ),
        (
            "transition overlaps",
            [
                {"type": "color", "color": "#000000", "duration": 5},
                {"type": "color", "color": "#000000", "duration": 5, "transition": {"duration": 1}},
            ],
            {},
            9.0,
        ),
        ("frames", [{"type": "color", "color": "#000000", "startFrame": 30, "durationFrames": 60}], {}, 3.0),
        ("media length unknown", [{"type": "video", "src": "clip.mp4"}], {}, 0.0),
        (
            "a start after an unknown end",
            [
                {"type": "video", "src": "clip.mp4"},
                {"type": "color", "color": "#000000", "start": 7, "duration": 1},
            ],
            {},
            8.0,
        ),
    ],
)
def test_known_length_is_what_the_spec_fixes(
    name: str, clips: list[dict[str, Any]], fields: dict[str, Any], seconds: float
) -> None:
    assert known_length(timeline(clips, **fields)) == pytest.approx(seconds), name


def test_clips_that_add_up_past_the_cap_are_refused_at_validation() -> None:
    clips = [{"type": "color", "color": "#000000", "duration": 3000}] * 2
    with pytest.raises(ValidationError, match="maxDurationSeconds"):
        RenderJobSpec.model_validate(render_spec(clips))


def test_the_caps_are_configurable_and_frames_are_capped_too() -> None:
    clips = [{"type": "color", "color": "#000000"}]
    raised = {"maxDurationSeconds": 40_000, "maxFrames": 1_200_000}
    RenderJobSpec.model_validate(render_spec(clips, raised, duration=TEN_HOURS))
    with pytest.raises(
        ValidationError, match=r"108,000 frames, over the cap spec\.output\.maxFrames=100,000"
    ):
        RenderJobSpec.model_validate(render_spec(clips, {"maxFrames": 100_000}, duration=3600))
    with pytest.raises(ValidationError, match="maxDurationSeconds"):
        OutputSpec.model_validate({"maxDurationSeconds": 86_401})


def test_a_still_is_one_frame_whatever_the_timeline_lasts() -> None:
    clips = [{"type": "color", "color": "#000000"}]
    RenderJobSpec.model_validate(render_spec(clips, {"format": "png"}, duration=TEN_HOURS))


def test_output_length_error_names_each_cap() -> None:
    output = OutputSpec()
    assert output_length_error(3600, 108_000, output) is None
    assert "maxDurationSeconds=3,600" in (output_length_error(3601, 108_030, output) or "")
    assert "maxFrames=216,000" in (output_length_error(3600, 216_001, output) or "")


def test_a_length_known_only_from_media_is_refused_at_planning(tmp_path: Path) -> None:
    # A 10-hour video with no duration in the spec: only the probe knows, so the planner refuses.
    tl = timeline([{"type": "video", "src": "long.mp4"}])
    RenderJobSpec.model_validate({"timeline": tl.model_dump(exclude_none=True)})
    long_video = MediaInfo(
        duration=TEN_HOURS, width=320, height=240, has_video=True, has_audio=False, is_still=False
    )
    inputs = {
        "long.mp4": ResolvedInput(
            src="long.mp4", path=tmp_path / "long.mp4", kind="video", size=0, info=long_video
        )
    }
    with pytest.raises(
        OutputTooLong, match=r"36,000 s, over the cap spec\.output\.maxDurationSeconds=3,600"
    ) as caught:
        build_plan(tl, OutputSpec(), inputs, workdir=tmp_path, output_path=tmp_path / "out.mp4")
    assert caught.value.reason == "OutputTooLong"
    assert caught.value.retryable is False
    assert isinstance(caught.value, SpecError)


def test_planning_within_the_caps_is_unchanged(tmp_path: Path) -> None:
    plan = plan_for(timeline([{"type": "video", "src": "clip.mp4", "duration": 3}]), tmp_path, tmp_path)
    assert plan.total_frames == 90


# --- picture size ------------------------------------------------------------------------------


def test_check_pixels_names_the_limit() -> None:
    check_pixels("a.png", 7680, 4320, DEFAULT_MAX_PIXELS)
    with pytest.raises(
        InputTooLarge,
        match=r"a\.png is 30000x30000 pixels \(900,000,000\), over inputLimits\.maxPixels=40,000,000",
    ):
        check_pixels("a.png", 30_000, 30_000, DEFAULT_MAX_PIXELS)


def test_max_pixels_has_a_documented_default() -> None:
    assert InputLimits().maxPixels == DEFAULT_MAX_PIXELS == 40_000_000
    assert "decodes" in (InputLimits.model_fields["maxPixels"].description or "")


PROBE_CHILD = """
import json, resource, sys, time
from pathlib import Path
from reelkube.engine.probe import probe_media
from reelkube.errors import InputTooLarge
started = time.monotonic()
try:
    probe_media(Path(sys.argv[1]), max_pixels=int(sys.argv[2]))
    outcome = "probed"
except InputTooLarge as error:
    outcome = error.message
print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - started,
                  "ffprobe_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def probe_in_child(path: Path, max_pixels: int) -> dict[str, Any]:
    """probe_media in a new process: its outcome, seconds, and ffprobe's peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE_CHILD, str(path), str(max_pixels)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize("side", [30_000, 10_000])
def test_a_png_bomb_is_refused_from_its_header_quickly_and_in_little_memory(
    tmp_path: Path, side: int
) -> None:
    # 30,000 x 30,000 is 2.5 GiB decoded; 10,000 x 10,000 (0.3 GiB) is one ffmpeg would decode
    # while probing without the limit (346 MB peak measured).
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(side, side))
    assert bomb.stat().st_size < 4 * 2**20
    result = probe_in_child(bomb, DEFAULT_MAX_PIXELS)
    assert result["outcome"].startswith(f"bomb.png is {side}x{side} pixels"), result
    assert "inputLimits.maxPixels=40,000,000" in result["outcome"]
    assert result["seconds"] < 10, result
    assert result["ffprobe_peak_mib"] < 150, result


@pytest.mark.slow
def test_a_png_bomb_input_fails_with_input_too_large_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "bomb.png").write_bytes(png_bomb(30_000, 30_000))
    started = time.monotonic()
    with pytest.raises(
        InputTooLarge,
        match=r"spec\.timeline\.tracks\[0\]\.clips\[0\]\.src: bomb\.png is refused: .*maxPixels",
    ) as caught:
        fetch_one(
            "bomb.png",
            "image",
            tmp_path / "work",
            InputLimits(),
            base_dir=tmp_path / "assets",
            storage=None,
            field="spec.timeline.tracks[0].clips[0].src",
        )
    assert time.monotonic() - started < 10
    assert caught.value.reason == "InputTooLarge"
    assert caught.value.retryable is False


@pytest.mark.slow
def test_a_picture_within_the_limit_probes_as_before(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    small.write_bytes(png_bomb(64, 48))
    info = probe_media(small, max_pixels=DEFAULT_MAX_PIXELS)
    assert (info.width, info.height, info.is_still) == (64, 48, True)
    # A limit below the picture refuses it even though ffmpeg could decode it.
    with pytest.raises(InputTooLarge, match=r"64x48 pixels \(3,072\), over inputLimits\.maxPixels=3,000"):
        probe_media(small, max_pixels=3000)


@pytest.mark.slow
def test_a_stream_that_grows_its_picture_mid_stream_is_refused_while_rendering(tmp_path: Path) -> None:
    """The probe sees the first frames (160x96); from the second second the stream is 1280x720.
    The render's decoder refuses those frames (never decoded) and the render fails InputTooLarge
    instead of finishing with a frozen picture."""
    parts = []
    for number, size in enumerate(("160x96", "1280x720")):
        part = tmp_path / f"part{number}.ts"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=s={size}:r=10:d=1",
             "-c:v", "libx264", "-preset", "ultrafast", str(part)],
            check=True,
        )  # fmt: skip
        parts.append(part.read_bytes())
    (tmp_path / "grows.ts").write_bytes(b"".join(parts))
    limits = InputLimits(maxPixels=160 * 96 * 2)
    assert probe_media(tmp_path / "grows.ts", max_pixels=limits.maxPixels).width == 160  # passes the probe
    spec = render_spec(
        [{"type": "video", "src": "grows.ts"}], {"preset": "ultrafast"}, width=160, height=96, duration=2
    )
    job = RenderJobSpec.model_validate(spec)
    assert job.timeline is not None
    with pytest.raises(
        InputTooLarge, match=r"mid-stream to 1280x720 pixels \(921,600\), over inputLimits\.maxPixels"
    ):
        render_timeline(job.timeline, job.output, tmp_path / "out", base_dir=tmp_path, limits=limits)
    assert not list((tmp_path / "out").glob("*.mp4"))
