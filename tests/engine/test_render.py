"""Real renders with ffmpeg at tiny sizes: exact frames, sizes and rates, every output format,
literal text, transitions, progress."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.status import Step
from reelkube.engine.execute import run_ffmpeg
from reelkube.engine.probe import probe_media
from reelkube.engine.render import render_timeline
from reelkube.progress_events import ProgressEvent
from support.media import ffmpeg, probe, video_stream
from support.timelines import FPS, HEIGHT, WIDTH, plan_for, timeline

pytestmark = pytest.mark.slow

NASTY_TITLE = 'It\'s "50%": a, b; [out] \\ %{pts} ;[v]drawbox\nلغة عربية · עברית · 🎬 émoji'


def test_reel_has_exact_frames_size_rate_and_audio(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "image", "src": "image.jpg", "kenBurns": {"zoomEnd": 1.3, "panY": -0.5}}],
        [{"type": "color", "color": "#000000", "opacity": 0.3}],
        [{"type": "text", "text": "Title", "fontSize": 20, "margin": 8, "fadeIn": 0.3, "slide": {}}],
        [{"type": "audio", "src": "tone.wav", "fadeOut": 0.5}],
        duration=1.5,
    )
    events: list[ProgressEvent] = []
    result = render_timeline(
        tl, OutputSpec(), tmp_path / "out", base_dir=media["root"], on_progress=events.append
    )
    video = result.outputs["video"].path
    stream = video_stream(video)
    assert (stream["width"], stream["height"]) == (WIDTH, HEIGHT)
    assert int(stream["nb_read_frames"]) == 45 == result.frames
    assert stream["r_frame_rate"] == f"{FPS}/1" and stream["pix_fmt"] == "yuv420p"
    audio = [s for s in probe(video)["streams"] if s["codec_type"] == "audio"]
    assert audio and abs(float(audio[0]["duration"]) - 1.5) < 0.05
    assert result.outputs["thumbnail"].path.is_file() and result.outputs["thumbnail"].width == WIDTH
    # The thumbnail is described from the plan, not probed: what a probe says all the same.
    thumb, probed = result.outputs["thumbnail"], probe_media(result.outputs["thumbnail"].path)
    assert (thumb.width, thumb.height, thumb.duration) == (probed.width, probed.height, probed.duration)
    assert len(result.outputs["video"].sha256) == 64 and result.outputs["video"].content_type == "video/mp4"
    # The scratch directory is gone.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["thumbnail.jpg", "video.mp4"]

    rendering = [e for e in events if e.step == Step.RENDERING]
    percents = [e.percent for e in rendering]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert rendering[-1].frame == rendering[-1].total_frames == 45
    assert any(e.step == Step.DOWNLOADING for e in events)


def test_hostile_text_renders_literally_from_textfiles(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "color", "color": "#336699"}],
        [
            {
                "type": "text",
                "text": NASTY_TITLE,
                "fontSize": 10,
                "margin": 4,
                "background": True,
                "backgroundPadding": 2,
            }
        ],  # fmt: skip
        [
            {
                "type": "text",
                "text": NASTY_TITLE,
                "font": "Noto Sans",
                "fontSize": 10,
                "position": "top",
                "margin": 4,
            }
        ],
        duration=0.5,
    )
    plan = plan_for(tl, media["root"], tmp_path, output={"audioCodec": "none"})
    for fragment in ("50%", "%{pts}", "[out]", ";[v]drawbox", "عربية", "עברית", "🎬"):
        assert fragment not in plan.filter_graph
    run_ffmpeg(plan)
    assert int(video_stream(plan.output)["nb_read_frames"]) == 15
    written = "\n".join(path.read_text(encoding="utf-8") for path in sorted(plan.files))
    for fragment in ('It\'s "50%":', "%{pts}", ";[v]drawbox", "عربية", "עברית", "🎬"):
        assert fragment in written


def test_odd_workdir_path_is_escaped(media: dict[str, Path], tmp_path: Path) -> None:
    workdir = tmp_path / "it's a [dir], with; colons: and \\ backslash"
    workdir.mkdir()
    tl = timeline(
        [{"type": "color"}],
        [{"type": "text", "text": "path test", "fontSize": 12}],
        [{"type": "subtitles", "cues": [{"start": 0, "end": 0.5, "text": "cue"}]}],
        duration=0.5,
    )
    plan = plan_for(tl, media["root"], workdir, output={"audioCodec": "none"})
    run_ffmpeg(plan)
    assert int(video_stream(plan.output)["nb_read_frames"]) == 15


def test_transition_chain_renders_exact_frames(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline(
        [
            {"type": "image", "src": "image.jpg", "duration": 0.6, "kenBurns": {}},
            {"type": "video", "src": "clip.mp4", "duration": 0.6, "fit": "contain",
             "transition": {"type": "slideup", "duration": 0.2}},
            {"type": "color", "color": "#ff8800", "duration": 0.5,
             "transition": {"type": "circleopen", "duration": 0.2}},
        ],
        [{"type": "video", "src": "clip.mp4", "start": 0.2, "duration": 0.5, "volume": 1, "opacity": 0.5,
          "box": {"left": 8, "top": 8, "width": 64, "height": 48}}],
    )  # fmt: skip
    result = render_timeline(tl, OutputSpec(thumbnail=False), tmp_path, base_dir=media["root"])
    assert int(video_stream(result.outputs["video"].path)["nb_read_frames"]) == 18 + 12 + 9 == result.frames


@pytest.mark.parametrize(
    ("output", "name", "codec", "frames"),
    [
        ({"format": "webm", "codec": "vp9", "crf": 40}, "video.webm", "vp9", 15),
        ({"codec": "h265", "preset": "ultrafast"}, "video.mp4", "hevc", 15),
        ({"format": "gif"}, "video.gif", "gif", 15),
        ({"format": "png"}, "video.png", "png", 1),
        ({"format": "jpeg"}, "video.jpg", "mjpeg", 1),
    ],
)
def test_output_formats(
    media: dict[str, Path], tmp_path: Path, output: dict, name: str, codec: str, frames: int
) -> None:
    tl = timeline(
        [{"type": "image", "src": "image.jpg"}],
        [{"type": "text", "text": "fmt", "fontSize": 16}],
        [{"type": "audio", "src": "tone.wav"}],
        duration=0.5,
    )
    result = render_timeline(tl, OutputSpec.model_validate(output), tmp_path, base_dir=media["root"])
    path = result.outputs["video"].path
    assert path.name == name
    stream = video_stream(path)
    assert stream["codec_name"] == codec and int(stream["nb_read_frames"]) == frames
    if codec == "hevc":
        assert stream["codec_tag_string"] == "hvc1"
    has_audio = any(s["codec_type"] == "audio" for s in probe(path)["streams"])
    assert has_audio == (codec in ("vp9", "hevc"))
    assert ("thumbnail" in result.outputs) == (codec in ("vp9", "hevc"))


def test_output_size_and_rate_override_the_timeline(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline([{"type": "image", "src": "image.jpg"}], duration=0.5)
    output = OutputSpec(width=96, height=96, fps=24, audioCodec="none", thumbnail=False)
    stream = video_stream(render_timeline(tl, output, tmp_path, base_dir=media["root"]).outputs["video"].path)
    assert (stream["width"], stream["height"], stream["r_frame_rate"]) == (96, 96, "24/1")
    assert int(stream["nb_read_frames"]) == 12


def _pixel(path: Path, x: int, y: int) -> tuple[int, ...]:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"crop=1:1:{x}:{y}", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return tuple(raw)


def test_transparent_png_shows_what_is_beneath(media: dict[str, Path], tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64,format=rgba,geq=r=255:g=0:b=0:a='if(lt(X,32),0,255)'",
           "-frames:v", "1", str(logo))  # fmt: skip
    tl = timeline([{"type": "image", "src": str(logo), "fit": "stretch"}], duration=0.2, background="#0000ff")
    result = render_timeline(tl, OutputSpec(format="png"), tmp_path / "out", base_dir=media["root"])
    still = result.outputs["video"].path
    left, right = _pixel(still, 10, 140), _pixel(still, 150, 140)
    assert left[2] > 200 and left[0] < 40, left
    assert right[0] > 200 and right[2] < 40, right


def test_render_job_expands_a_template(media: dict[str, Path], tmp_path: Path) -> None:
    from reelkube.api.renderjob import RenderJob
    from reelkube.pipeline.render_job import render_job

    job = RenderJob.model_validate({
        "metadata": {"name": "reel"},
        "spec": {
            "template": "captioned-reel",
            "props": {"title": "Small: 'reel'", "backgroundUrl": "image.jpg", "durationSeconds": 2},
            "output": {"width": 160, "height": 284, "fps": 10, "thumbnail": False},
        },
    })  # fmt: skip
    result = render_job(job, tmp_path, base_dir=media["root"])
    stream = video_stream(result.outputs["video"].path)
    assert (stream["width"], stream["height"], int(stream["nb_read_frames"])) == (160, 284, 20)


@pytest.mark.parametrize("fps", [10, 29.97])
def test_audio_lasts_as_long_as_the_video_at_any_rate(
    media: dict[str, Path], tmp_path: Path, fps: float
) -> None:
    # `-frames:v` used to close the file with audio still queued: 0.17 s lost at 10 fps.
    tl = timeline(
        [{"type": "color", "color": "#336699"}],
        [{"type": "audio", "src": "tone.wav", "fadeOut": 0.5}],
        duration=2.4,
        fps=fps,
    )
    result = render_timeline(tl, OutputSpec(thumbnail=False), tmp_path / "out", base_dir=media["root"])
    streams = {s["codec_type"]: s for s in probe(result.outputs["video"].path)["streams"]}
    frames = round(2.4 * fps)
    assert int(streams["video"]["nb_read_frames"]) == frames == result.frames
    assert abs(float(streams["audio"]["duration"]) - frames / fps) < 0.025


def _frame_bytes(video: Path, at: float) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(video), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def test_emoji_render_as_their_own_glyphs(media: dict[str, Path], tmp_path: Path) -> None:
    # drawtext has one font and no fallback: every emoji became the same empty box. Two
    # different emoji must now draw different (and visible) glyphs.
    frames = []
    for i, emoji in enumerate(("🙂", "🎬")):
        glyph = {"type": "text", "text": emoji, "fontSize": 80}
        tl = timeline([{"type": "color", "color": "#000000"}], [glyph], duration=0.5)
        result = render_timeline(tl, OutputSpec(thumbnail=False), tmp_path / str(i), base_dir=media["root"])
        frames.append(_frame_bytes(result.outputs["video"].path, 0.2))
    lit = [sum(1 for b in frame if b > 128) for frame in frames]
    assert min(lit) > 200, f"glyph pixels: {lit}"
    differing = sum(1 for a, b in zip(frames[0], frames[1], strict=True) if abs(a - b) > 64)
    assert differing > 200, f"the two emoji drew the same shape ({differing} pixels differ)"


def test_a_rendered_video_is_described_from_its_plan(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the last frame no ffprobe runs on the MP4: its frames, size and rate are the plan's
    # (which ffmpeg was checked to write); what a probe says all the same, to the frame.
    import reelkube.engine.artifacts as artifacts

    probed: list[Path] = []
    real_probe = artifacts.probe_media
    monkeypatch.setattr(artifacts, "probe_media", lambda path, **kw: probed.append(path) or real_probe(path))
    tl = timeline(
        [{"type": "color", "color": "#204080"}], [{"type": "audio", "src": "tone.wav"}], duration=1.2
    )
    result = render_timeline(tl, OutputSpec(), tmp_path / "mp4", base_dir=media["root"])
    video = result.outputs["video"]
    assert probed == []
    truth = probe_media(video.path)
    assert (video.width, video.height) == (truth.width, truth.height) == (WIDTH, HEIGHT)
    assert video.duration == pytest.approx(truth.duration, abs=1 / FPS) and video.duration == 1.2
    # A GIF's frame times are rounded to centiseconds: it is probed.
    gif = render_timeline(
        tl, OutputSpec(format="gif", audioCodec="none"), tmp_path / "gif", base_dir=media["root"]
    )
    assert probed == [gif.outputs["video"].path]
