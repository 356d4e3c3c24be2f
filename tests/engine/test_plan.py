"""Planner unit tests: the graph and arguments for each clip kind, transitions and encoders.

The inputs are the sample media as fake probes describe them (support.timelines.SAMPLE_PROBES):
nothing is probed or rendered here, except in the one slow test that holds the fakes to ffprobe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.engine.filtergraph import escape_option_value
from reelkube.engine.probe import probe_media
from reelkube.errors import SpecError
from support.timelines import SAMPLE_PROBES, plan_for, timeline


def test_ken_burns_still_with_tint_is_composed_once_and_zoomed(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "image", "src": "image.jpg", "kenBurns": {"zoomStart": 1, "zoomEnd": 1.2, "panX": 0.5}}],
        [{"type": "color", "color": "#000000", "opacity": 0.3}],
        duration=1,
    )
    plan = plan_for(tl, sample_dir, tmp_path)
    graph = plan.filter_graph
    assert "zoompan=" in graph and "d=30" in graph
    # The tint is a one-frame colour composed onto the still before the zoom...
    assert "color=c=#000000@0.3:s=160x284:r=1:d=1,format=yuva420p" in graph
    assert graph.index("overlay=shortest=1") < graph.index("zoompan=")
    # ...and the zoomed still is the canvas itself: no background colour, no per-frame overlay.
    assert "eof_action=pass" not in graph
    assert "color=c=#000000:s=160x284" not in graph
    assert "drawbox" not in graph
    assert plan.total_frames == 30


def test_fading_tint_is_an_overlay_of_an_alpha_colour_source(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "image", "src": "image.jpg", "fit": "contain"}],
        [{"type": "color", "color": "#ff0000", "opacity": 0.5, "fadeIn": 0.2, "start": 0.5}],
        duration=1,
    )
    graph = plan_for(tl, sample_dir, tmp_path).filter_graph
    assert "color=c=#ff0000@0.5:s=160x284:r=30,trim=end_frame=15,format=yuva420p" in graph
    assert "fade=t=in:st=0:d=0.2:alpha=1" in graph
    assert "setpts=PTS-STARTPTS+15" in graph  # shifted to 0.5 s
    assert "eof_action=pass" in graph
    # contain: scaled to fit and centred by the overlay, not padded
    assert "force_original_aspect_ratio=decrease" in graph and "x=0+(160-w)/2" in graph
    assert "drawbox" not in graph


def test_video_clip_trim_loop_fit_box_fades_and_audio(sample_dir: Path, tmp_path: Path) -> None:
    clip = {
        "type": "video", "src": "clip.mp4", "trimStart": 0.5, "loop": True, "duration": 3,
        "box": {"left": 10, "top": 20, "width": 80, "height": 60}, "fadeOut": 0.5, "volume": 0.8,
    }  # fmt: skip
    plan = plan_for(timeline([clip]), sample_dir, tmp_path)
    argv = plan.argv
    # The picture: one input per pass over the 2 s media (1.5 s from 0.5, then 1.5 s from 0),
    # each cut to its frames, joined. The sound: the media looped by ffmpeg from 0.5.
    inputs = [argv[i - 4 : i + 2] for i, arg in enumerate(argv) if arg == "-i"]
    assert inputs[0][:2] == ["-ss", "0.5"] and "-ss" not in inputs[1] and "-stream_loop" not in inputs[1]
    i = argv.index("-stream_loop")
    assert argv[i + 1] == "-1" and argv[i + 2 : i + 4] == ["-ss", "0.5"]
    graph = plan.filter_graph
    assert "scale=80:60:force_original_aspect_ratio=increase,crop=80:60" in graph
    assert graph.count("trim=end_frame=45") == 2 and "concat=n=2:v=1:a=0" in graph
    assert "fade=t=out:st=2.5:d=0.5:alpha=1" in graph
    assert "overlay=x=10:y=20:eof_action=pass" in graph
    assert "[0:a]" not in graph and "[2:a]" in graph and "volume=0.8" in graph
    assert plan.total_frames == 90  # the clip's length sets the timeline's
    assert plan.audio_encoder == "aac"


def test_short_video_without_loop_holds_its_last_frame(sample_dir: Path, tmp_path: Path) -> None:
    plan = plan_for(timeline([{"type": "video", "src": "clip.mp4", "duration": 3}]), sample_dir, tmp_path)
    assert "tpad=stop_mode=clone" in plan.filter_graph


def test_video_without_duration_lasts_its_media(sample_dir: Path, tmp_path: Path) -> None:
    plan = plan_for(timeline([{"type": "video", "src": "clip.mp4", "trimStart": 0.5}]), sample_dir, tmp_path)
    assert plan.total_frames == 45


def test_text_is_only_in_textfiles(sample_dir: Path, tmp_path: Path) -> None:
    nasty = 'It\'s "50%": a, b; [out] \\ %{pts} {x}\nلغة عربية עברית 🎬'
    text = {"type": "text", "text": nasty, "fontSize": 12, "margin": 4, "background": True, "fadeIn": 0.2,
            "fadeOut": 0.2, "slide": {"start": "left"}, "position": "bottom"}  # fmt: skip
    tl = timeline([text], duration=1)
    plan = plan_for(tl, sample_dir, tmp_path)
    graph = plan.filter_graph
    # Lines with emoji go through libass (font fallback); the others through drawtext.
    textfiles = {p: c for p, c in plan.files.items() if p.suffix == ".txt"}
    assfiles = {p: c for p, c in plan.files.items() if p.suffix == ".ass"}
    assert graph.count("drawtext=") == len(textfiles) >= 2 and graph.count("ass=") == len(assfiles) >= 1
    assert "expansion=none" in graph and "textfile=" in graph and ":text=" not in graph
    for fragment in ("50%", "%{pts}", "[out]", "عربية", "🎬", "It"):
        assert fragment not in graph
    assert all(line in nasty for line in textfiles.values())
    ass = "".join(assfiles.values())
    assert "🎬" in ass and "عربية" in ass
    assert "DejaVuSans.ttf" in graph
    assert "alpha=clip((t-0)/0.2\\,0\\,1)*clip((1-t)/0.2\\,0\\,1)" in graph
    assert "box=1:boxcolor=#000000@0.5:boxborderw=20" in graph


def test_bold_font_and_missing_font(sample_dir: Path, tmp_path: Path) -> None:
    bold = timeline([{"type": "text", "text": "Hi", "bold": True}], duration=1)
    assert "DejaVuSans-Bold.ttf" in plan_for(bold, sample_dir, tmp_path).filter_graph
    missing = timeline([{"type": "text", "text": "Hi", "font": "No Such Font Family"}], duration=1)
    with pytest.raises(SpecError, match=r"tracks\[0\]\.clips\[0\]\.font: font 'No Such Font Family'"):
        plan_for(missing, sample_dir, tmp_path)


def test_long_text_wraps_to_max_width(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline([{"type": "text", "text": "one two three four five six seven eight", "fontSize": 20,
                    "margin": 0, "maxWidth": 0.9}], duration=1)  # fmt: skip
    plan = plan_for(tl, sample_dir, tmp_path)
    lines = list(plan.files.values())
    assert len(lines) >= 3
    assert " ".join(lines) == "one two three four five six seven eight"


def test_subtitles_file_and_inline_cues(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "color", "color": "#202020"}],
        [{"type": "subtitles", "src": "captions.srt", "start": 0.5}],
        [{"type": "subtitles", "cues": [{"start": 0, "end": 0.5, "text": "a {\\b1} b\\N"}]}],
        duration=1,
    )
    plan = plan_for(tl, sample_dir, tmp_path)
    assert plan.filter_graph.count("ass=filename=") == 2
    ass_files = [c for p, c in plan.files.items() if p.suffix == ".ass"]
    assert any("Dialogue: 0,0:00:00.50,0:00:01.00" in c and "Hello" in c for c in ass_files)
    assert any("a \\{\\\u2060b1\\} b\\\u2060N" in c for c in ass_files)


def test_audio_mix_delay_loop_and_ducking(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "color"}],
        [{"type": "audio", "src": "tone.wav", "id": "voice", "start": 0.5, "fadeIn": 0.1}],
        [
            {
                "type": "audio",
                "src": "tone.wav",
                "loop": True,
                "volume": 0.3,
                "duckUnder": "voice",
                "fadeOut": 1,
            }
        ],
        duration=4,
    )
    plan = plan_for(tl, sample_dir, tmp_path)
    graph = plan.filter_graph
    assert "adelay=delays=500:all=1" in graph
    assert "asplit=2" in graph and "sidechaincompress=" in graph
    assert "amix=inputs=2:normalize=0" in graph and graph.count("amix") == 1
    assert "atrim=end_sample=192000" in graph  # 4 s at 48 kHz
    assert "-stream_loop" in plan.argv
    bad = timeline([{"type": "audio", "src": "tone.wav", "duckUnder": "nobody"}], duration=1)
    with pytest.raises(SpecError, match="duckUnder"):
        plan_for(bad, sample_dir, tmp_path)


def test_transitions_form_one_xfade_chain(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [
            {"type": "image", "src": "image.jpg", "duration": 1},
            {
                "type": "video",
                "src": "clip.mp4",
                "duration": 1,
                "transition": {"type": "wipeleft", "duration": 0.5},
            },
            {
                "type": "color",
                "color": "#00ff00",
                "duration": 1,
                "transition": {"type": "fade", "duration": 0.3},
            },
        ]
    )
    plan = plan_for(tl, sample_dir, tmp_path)
    graph = plan.filter_graph
    # Only the shared frames are crossfaded (frames 15-29 and 36-44), each xfade from its first
    # pair; the parts alone and the transitions are joined in order: five parts.
    assert "xfade=transition=wipeleft:duration=0.5:offset=0,format=yuv420p,trim=end_frame=15" in graph
    assert "xfade=transition=fade:duration=0.3:offset=0,format=yuv420p,trim=end_frame=9" in graph
    assert "concat=n=5:v=1:a=0" in graph
    assert plan.total_frames == 30 + 15 + 21


def test_timing_frames_and_follow_rules(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "color", "startFrame": 15, "durationFrames": 15}, {"type": "color", "duration": 0.5}],
        fps=30,
    )
    plan = plan_for(tl, sample_dir, tmp_path, output={"fps": 60})
    # startFrame/durationFrames count at the timeline's 30 fps: 0.5 s + 0.5 s, then 0.5 s more
    assert plan.total_frames == 90 and plan.fps == 60
    with pytest.raises(SpecError, match="duration"):
        plan_for(timeline([{"type": "color"}]), sample_dir, tmp_path)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({}, ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
              "-movflags", "+faststart"]),
        ({"codec": "h265"}, ["-c:v", "libx265", "-tag:v", "hvc1"]),
        ({"format": "webm", "codec": "vp9", "crf": 33},
         ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "33", "-row-mt", "1", "-c:a", "libopus"]),
        ({"gpu": True}, ["-c:v", "h264_nvenc", "-cq", "23"]),
        ({"gpu": True, "codec": "h265"}, ["-c:v", "hevc_nvenc"]),
        ({"format": "png"}, ["-c:v", "png", "-an", "-frames:v", "1"]),
        ({"format": "jpeg"}, ["-c:v", "mjpeg", "-an", "-frames:v", "1"]),
        ({"audioCodec": "none"}, ["-an"]),
        ({"audioCodec": "opus", "audioBitrate": "96k"}, ["-c:a", "libopus", "-b:a", "96k"]),
    ],
)  # fmt: skip
def test_encoder_arguments(sample_dir: Path, tmp_path: Path, output: dict, expected: list[str]) -> None:
    tl = timeline([{"type": "color"}], [{"type": "audio", "src": "tone.wav"}], duration=1)
    argv = plan_for(tl, sample_dir, tmp_path, output=output).argv
    for flag, value in zip(expected[::2], expected[1::2], strict=False):
        assert flag in argv and argv[argv.index(flag) + 1] == value, (flag, argv)
    if len(expected) % 2:
        assert expected[-1] in argv


def test_gif_uses_a_palette_and_output_size_override_scales(sample_dir: Path, tmp_path: Path) -> None:
    tl = timeline([{"type": "color", "color": "#123456"}], duration=1)
    plan = plan_for(tl, sample_dir, tmp_path, output={"format": "gif", "width": 80})
    assert "palettegen" in plan.filter_graph and "paletteuse" in plan.filter_graph
    assert "scale=80:142" in plan.filter_graph and (plan.width, plan.height) == (80, 142)
    assert plan.audio_encoder is None and "-an" in plan.argv


def test_crf_above_the_encoder_range_is_a_spec_error(sample_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"spec\.output\.crf"):
        plan_for(timeline([{"type": "color"}], duration=1), sample_dir, tmp_path, output={"crf": 60})


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain_value-1.5", "plain_value-1.5"),
        ("if(lt(t,1),0,1)", "if(lt(t\\,1)\\,0\\,1)"),
        ("/tmp/a b/it's:x,[y];z", "\\'/tmp/a b/it\\'\\\\\\'\\'s:x\\,\\[y\\]\\;z\\'"),
    ],
)
def test_option_values_are_escaped_for_both_parsing_levels(value: str, escaped: str) -> None:
    assert escape_option_value(value) == escaped


@pytest.mark.slow
def test_fake_probes_are_what_ffprobe_says_about_the_sample_media(media: dict[str, Path]) -> None:
    for name, fake in SAMPLE_PROBES.items():
        assert probe_media(media["root"] / name) == fake, name
