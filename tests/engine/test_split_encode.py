"""Composing and encoding in two ffmpeg processes joined by a pipe (`run_ffmpeg(split=True)`):
the file is byte for byte the one a single ffmpeg writes, and a failure on either side is
reported with that side's own cause."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reelkube.engine.execute import run_ffmpeg, split_encode
from reelkube.engine.plan import RenderPlan
from reelkube.errors import RenderFailed
from reelkube.progress_events import ProgressEvent
from support.timelines import plan_for, timeline

REEL = timeline(
    [{"type": "image", "src": "image.jpg", "kenBurns": {"zoomEnd": 1.2}}],
    [{"type": "color", "color": "#000000", "opacity": 0.35}],
    [{"type": "text", "text": "Golden hour", "fontSize": 22, "fadeIn": 0.5, "slide": {}}],
    [{"type": "text", "text": "Rendered by Reelkube", "fontSize": 12, "start": 0.3, "fadeIn": 0.5}],
    duration=1.5,
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reel_plan(media: dict[str, Path], workdir: Path) -> RenderPlan:
    return plan_for(REEL, media["root"], workdir, output={"audioCodec": "none"})


def test_plans_split_only_video_alone_with_a_split_encoder(tmp_path: Path) -> None:
    media = {"root": tmp_path / "media"}  # planned only: nothing is read or run
    plan = _reel_plan(media, tmp_path / "video")
    parts = split_encode(plan)
    assert parts is not None
    compose, encode = parts
    at = plan.argv.index("-map")
    # The composing side keeps the inputs and the graph and writes raw frames, as many as the file has.
    assert compose[:at] == plan.argv[:at] and compose[-5:] == ["-c:v", "rawvideo", "-f", "nut", "pipe:1"]
    assert compose[compose.index("-frames:v") + 1] == str(plan.total_frames) == "45"
    # The encoding side has the plan's own output options, unchanged.
    assert (
        encode[encode.index("-i") + 1] == "pipe:0"
        and encode[-len(plan.argv[at + 2 :]) :] == plan.argv[at + 2 :]
    )

    with_audio = plan_for(
        timeline([{"type": "color"}], [{"type": "audio", "src": "tone.wav"}], duration=0.5),
        media["root"],
        tmp_path / "audio",
    )
    assert with_audio.audio_encoder is not None and split_encode(with_audio) is None
    h265 = plan_for(REEL, media["root"], tmp_path / "h265", output={"codec": "h265", "audioCodec": "none"})
    assert h265.encoder == "libx265" and split_encode(h265) is None
    gif = plan_for(REEL, media["root"], tmp_path / "gif", output={"format": "gif"})
    assert split_encode(gif) is None


@pytest.mark.slow
def test_split_render_writes_the_same_file_as_one_ffmpeg(media: dict[str, Path], tmp_path: Path) -> None:
    one = _reel_plan(media, tmp_path / "one")
    run_ffmpeg(one)
    two = _reel_plan(media, tmp_path / "two")
    assert split_encode(two) is not None
    events: list[ProgressEvent] = []
    result = run_ffmpeg(two, events.append, split=True)
    assert result.frames == 45 and _sha256(two.output) == _sha256(one.output)
    # Progress comes from the encoding side: frames it has encoded, up to all of them.
    percents = [event.percent for event in events]
    assert percents == sorted(percents) and percents[-1] == 100.0 and events[-1].frame == 45


@pytest.mark.slow
def test_encoder_failure_is_reported_not_the_broken_pipe(media: dict[str, Path], tmp_path: Path) -> None:
    plan = _reel_plan(media, tmp_path)
    plan.argv[plan.argv.index("-preset") + 1] = "nosuchpreset"
    with pytest.raises(RenderFailed) as caught:
        run_ffmpeg(plan, split=True)
    message = caught.value.message
    assert "nosuchpreset" in message and "Broken pipe" not in message, message
    assert not plan.output.exists()


@pytest.mark.slow
def test_composing_failure_is_reported_not_the_empty_stream(media: dict[str, Path], tmp_path: Path) -> None:
    plan = _reel_plan(media, tmp_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    image = str(media["root"] / "image.jpg")
    plan.argv[plan.argv.index(image)] = str(broken)
    with pytest.raises(RenderFailed) as caught:
        run_ffmpeg(plan, split=True)
    message = caught.value.message
    # ffmpeg's own words about the picture it cannot read, from the composing side.
    assert "No JPEG data found" in message and "pipe:0" not in message, message
    assert not plan.output.exists()
