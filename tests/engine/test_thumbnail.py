"""The thumbnail: which frame it is, written by the render's own ffmpeg from the composed frames,
the video unchanged by it, and the second ffmpeg as the fallback when that JPEG is missing."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from reelkube.api.common import InputLimits
from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.engine.plan import plan_window, thumbnail_frame
from reelkube.engine.render import (
    RenderResult,
    describe_rendered,
    make_thumbnail,
    render_into,
    render_timeline,
)
from reelkube.progress_events import ignore_progress
from support.media import video_stream
from support.timelines import HEIGHT, WIDTH, plan_for, sample_inputs, timeline


@pytest.mark.parametrize(
    ("frames", "fps", "expected"),
    [
        (300, Fraction(30), 30),  # 10% of 10 s is 1 s: frame 30
        (45, Fraction(30), 30),  # 1.5 s: at least 1 s in
        (3000, Fraction(30), 300),  # 100 s: 10 s in
        (10, Fraction(10), 9),  # 1 s: never past the end (0.9 s)
        (1, Fraction(30), 0),
        (300, Fraction(30000, 1001), 30),  # 1.001 s: the first frame at or after it
    ],
)
def test_thumbnail_frame_is_the_frame_a_seek_to_its_time_gives(
    frames: int, fps: Fraction, expected: int
) -> None:
    assert thumbnail_frame(frames, fps) == expected


def _moving_reel(duration: float = 1.5) -> Timeline:
    return timeline([{"type": "image", "src": "image.jpg", "kenBurns": {"zoomEnd": 1.5}}], duration=duration)


def test_thumbnail_is_a_second_output_of_the_same_graph(sample_dir: Path, tmp_path: Path) -> None:
    tl = _moving_reel()
    plain = plan_for(tl, sample_dir, tmp_path)
    spec = OutputSpec()
    inputs = sample_inputs(tl, sample_dir)
    jpeg = tmp_path / "thumb.jpg"
    with_thumb = plan_window(
        tl, spec, inputs, workdir=tmp_path, output_path=tmp_path / "out.mp4", thumbnail=jpeg
    )
    assert with_thumb.thumbnail == jpeg and plain.thumbnail is None
    # The video's graph is the plain one, split at its end; the branch keeps frames 0 and 30
    # (1 s in), stamped after the video's 1.5 s (see plan._plan_thumbnail).
    branch = "trim=end_frame=31,select=eq(n\\,0)+eq(n\\,30),setpts=N+3/TB"
    assert (
        with_thumb.filter_graph
        == f"{plain.filter_graph};\n[vout]split[vframes][vthumb0];\n[vthumb0]{branch}[vthumb]"
    )
    main = plain.argv.index("-filter_complex") + 2
    assert with_thumb.argv[main:] == [
        *["-map", "[vframes]"], *plain.argv[main + 2 :],
        *["-map", "[vthumb]", "-frames:v", "2", "-fps_mode", "passthrough", "-q:v", "3", "-update", "1",
          str(jpeg)],
    ]  # fmt: skip
    for window, video in (((0, 15), True), (None, False)):
        with pytest.raises(ValueError, match="whole pass"):
            plan_window(tl, spec, inputs, workdir=tmp_path, output_path=tmp_path / "o.mp4", thumbnail=jpeg,
                        window=window, video=video)  # fmt: skip
    with pytest.raises(ValueError, match="whole pass"):
        plan_window(
            tl,
            OutputSpec.model_validate({"format": "gif"}),
            inputs,
            workdir=tmp_path,
            output_path=tmp_path / "o.gif",
            thumbnail=jpeg,
        )


def _gray(path: Path, frame: int | None = None) -> bytes:
    """One frame as 8-bit gray pixels: frame `frame` of a video, or the picture itself."""
    select = [] if frame is None else ["-vf", f"select=eq(n\\,{frame})"]
    argv = ["ffmpeg", "-v", "error", "-i", str(path), *select, "-frames:v", "1", "-f", "rawvideo",
            "-pix_fmt", "gray", "-"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, check=True).stdout


def _packets(video: Path) -> str:
    """The video stream's packets, each hashed (framemd5 of a stream copy)."""
    argv = ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-"]
    lines = subprocess.run(argv, capture_output=True, check=True, text=True).stdout.splitlines()
    return "\n".join(line for line in lines if not line.startswith("#"))


def _distance(a: bytes, b: bytes) -> float:
    assert len(a) == len(b) == WIDTH * HEIGHT
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_composed_thumbnail_leaves_the_video_byte_identical(
    media: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    tl = _moving_reel()
    codec = {"mp4": {}, "webm": {"codec": "vp9", "audioCodec": "none"}}[fmt]

    def render(thumbnail: bool, out: str) -> RenderResult:
        spec = OutputSpec.model_validate({"format": fmt, "thumbnail": thumbnail, **codec})
        return render_timeline(tl, spec, tmp_path / out, base_dir=media["root"])

    # The encoded packets are the same (WebM files differ run to run anyway: the muxer writes a
    # random segment UID), and an MP4 the same bytes. x264 with threads is not deterministic at
    # this tiny size on a busy machine (3 of 30 runs of one command differed, with or without
    # the thumbnail; none with -threads 1): a few tries, each pair compared.
    for attempt in range(3):
        with_thumb, without = render(True, f"a{attempt}"), render(False, f"b{attempt}")
        if _packets(with_thumb.outputs["video"].path) == _packets(without.outputs["video"].path):
            break
    else:
        pytest.fail("the video with a thumbnail differs from the video without one, three times")
    if fmt == "mp4":
        assert with_thumb.outputs["video"].sha256 == without.outputs["video"].sha256
    assert "'[vthumb]'" in with_thumb.command_line and "thumbnail" not in without.outputs
    thumb = with_thumb.outputs["thumbnail"]
    assert thumb.path == tmp_path / f"a{attempt}" / "thumbnail.jpg" and thumb.content_type == "image/jpeg"
    assert (thumb.width, thumb.height) == (WIDTH, HEIGHT)
    # Frame 30 (1 s in) as composed: nearer to the video's frame 30 than to either neighbour
    # (the zoom moves every frame).
    picture, video = _gray(thumb.path), with_thumb.outputs["video"].path
    near = {n: _distance(picture, _gray(video, n)) for n in (29, 30, 31)}
    assert min(near, key=near.__getitem__) == 30, near
    assert sorted(p.name for p in (tmp_path / f"a{attempt}").iterdir()) == ["thumbnail.jpg", f"video.{fmt}"]


@pytest.mark.slow
def test_a_failing_thumbnail_branch_does_not_fail_the_render(media: dict[str, Path], tmp_path: Path) -> None:
    # A directory where the JPEG should go: ffmpeg's image2 muxer fails on it, and ffmpeg exits 1
    # after finishing the video. The render runs again without the branch, and the thumbnail
    # comes from the finished video instead.
    tl = _moving_reel()
    workdir, out_dir = tmp_path / "work", tmp_path / "out"
    (workdir / "thumbnail.jpg").mkdir(parents=True)
    out_dir.mkdir()
    result = render_into(
        tl, OutputSpec(), out_dir, workdir, media["root"], InputLimits(), ignore_progress, "video", None
    )
    # The video whole: every frame (its bytes are compared with a plain render's above).
    assert int(video_stream(result.outputs["video"].path)["nb_read_frames"]) == 45
    assert "[vthumb]" not in result.command_line
    assert result.outputs["thumbnail"].path == out_dir / "thumbnail.jpg"
    assert len(_gray(result.outputs["thumbnail"].path)) == WIDTH * HEIGHT


@pytest.mark.slow
def test_missing_composed_thumbnail_falls_back_to_the_video(media: dict[str, Path], tmp_path: Path) -> None:
    video = render_timeline(_moving_reel(), OutputSpec(thumbnail=False), tmp_path, base_dir=media["root"])
    target = video.outputs["video"].path
    for composed in (tmp_path / "absent.jpg", None):
        (tmp_path / "thumbnail.jpg").unlink(missing_ok=True)
        outputs = describe_rendered(
            "video", target, OutputSpec(), 1.5, size=(WIDTH, HEIGHT), composed_thumbnail=composed
        )
        assert outputs["thumbnail"].path == tmp_path / "thumbnail.jpg"
        # What the second ffmpeg makes: the same bytes as make_thumbnail called alone.
        again = make_thumbnail(target, tmp_path / "again.jpg", 1.5)
        assert again is not None and again.sha256 == outputs["thumbnail"].sha256
