"""Chunked renders against single passes, with real ffmpeg: the examples rendered in windows
whose boundaries fall inside fades, slides, transitions, subtitles, a looping video and ducked
music hold exactly the single pass's frames (PSNR >= 40 dB on every frame, timestamps equal) and
its audio (same samples once decoded).

Small sizes and 10 fps keep each example to about a hundred frames.
"""

from __future__ import annotations

import array
import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.renderjob import RenderJob
from reelkube.api.timeline import Timeline
from reelkube.engine.chunks import Window, plan_segment, plan_soundtrack, render_chunked
from reelkube.engine.execute import run_ffmpeg
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.merge import count_video_frames, merge_segments
from reelkube.engine.plan import build_plan
from reelkube.engine.probe import ResolvedInput
from reelkube.errors import RenderFailed
from reelkube.manifest import load_manifest
from reelkube.pipeline.render_job import expand_job
from support.timelines import timeline

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MIN_PSNR_DB = 40.0


class Example:
    """An example manifest expanded once (narration is not bit-reproducible between runs), its
    inputs fetched, and its output made small."""

    def __init__(self, manifest: str, workdir: Path, **output: float) -> None:
        path = EXAMPLES / manifest
        job = load_manifest(path)
        assert isinstance(job, RenderJob)
        workdir.mkdir(parents=True, exist_ok=True)
        expansion = expand_job(job, workdir, base_dir=path.parent)
        self.timeline: Timeline = expansion.timeline
        self.output: OutputSpec = (expansion.output or job.spec.output).model_copy(update=output)
        self.inputs: dict[str, ResolvedInput] = fetch_inputs(
            self.timeline, workdir, job.spec.inputLimits, base_dir=path.parent
        )
        self.workdir = workdir

    def single_pass(self, target: Path) -> int:
        plan = build_plan(
            self.timeline, self.output, self.inputs, workdir=self.workdir / "single", output_path=target
        )
        run_ffmpeg(plan)
        return plan.total_frames

    def chunked(self, bounds: Sequence[int], target: Path, total: int) -> list[Window]:
        """Render the windows between `bounds` (the last bound is the timeline's end) one by
        one, the soundtrack once, and merge them."""
        edges = [*bounds, total]
        windows = [
            Window(i, first, last) for i, (first, last) in enumerate(zip(edges, edges[1:], strict=False))
        ]
        segments = []
        for window in windows:
            plan = plan_segment(
                self.timeline, self.output, self.inputs, window,
                workdir=self.workdir / f"w{window.index}",
                output_path=target.parent / f"seg{window.index}.mp4",
            )  # fmt: skip
            assert plan.total_frames == window.frames and "-an" in plan.argv
            run_ffmpeg(plan)
            assert _keyframe_flags(plan.output)[0], f"segment {window.index} does not start on a key frame"
            segments.append(plan.output)
        sound = plan_soundtrack(
            self.timeline,
            self.output,
            self.inputs,
            workdir=self.workdir,
            output_path=target.parent / "sound.m4a",
        )
        if sound is not None:
            run_ffmpeg(sound)
        merge_segments(segments, sound.output if sound else None, target, expected_frames=total)
        return windows


def _keyframe_flags(video: Path) -> list[bool]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
         "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return ["K" in line for line in out.split()]


def _frame_times(video: Path) -> list[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts", "-of", "csv=p=0",
         str(video)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line.split(",")[0] for line in out.split()]


def _per_frame_psnr(a: Path, b: Path, stats: Path) -> list[float]:
    """PSNR of each frame of `a` against the frame of `b` with the same timestamp."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(a), "-i", str(b), "-lavfi", f"[0:v][1:v]psnr=stats_file={stats}",
         "-f", "null", "-"],
        check=True, capture_output=True,
    )  # fmt: skip
    values = []
    for line in stats.read_text().splitlines():
        fields = dict(item.split(":", 1) for item in line.split())
        values.append(float("inf") if fields["psnr_avg"] == "inf" else float(fields["psnr_avg"]))
    return values


def _pcm(video: Path) -> array.array[int]:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:a:0", "-f", "s16le", "-ac", "2",
         "-ar", "48000", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = array.array("h")
    samples.frombytes(raw)
    return samples


def _assert_same_render(
    single: Path, chunked: Path, total: int, windows: list[Window], tmp_path: Path
) -> None:
    assert count_video_frames(chunked) == total == count_video_frames(single)
    assert _frame_times(chunked) == _frame_times(single)
    psnr = _per_frame_psnr(chunked, single, tmp_path / "psnr.log")
    assert len(psnr) == total
    worst = min(range(total), key=lambda n: psnr[n])
    assert psnr[worst] >= MIN_PSNR_DB, f"frame {worst}: {psnr[worst]:.2f} dB"
    for window in windows[1:]:  # each boundary frame and the one before it
        assert min(psnr[window.first - 1], psnr[window.first]) >= MIN_PSNR_DB


def _assert_same_audio(single: Path, chunked: Path) -> None:
    a, b = _pcm(single), _pcm(chunked)
    assert len(a) > 0
    assert len(a) == len(b), f"{len(a)} samples against {len(b)}"
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1


def test_captioned_reel_in_windows_through_the_title_fades(tmp_path: Path) -> None:
    example = Example("captioned-reel.yaml", tmp_path / "work", width=270, height=480, fps=10)
    total = example.single_pass(tmp_path / "single.mp4")
    assert total == 100
    # The title fades and slides in from 0.5 s, the subtitle from 1.3 s: boundaries inside both.
    windows = example.chunked([0, 7, 14, 60], tmp_path / "chunked.mp4", total)
    _assert_same_render(tmp_path / "single.mp4", tmp_path / "chunked.mp4", total, windows, tmp_path)


def test_slideshow_in_windows_opening_inside_transitions(tmp_path: Path) -> None:
    example = Example("slideshow.yaml", tmp_path / "work", width=320, height=180, fps=10)
    total = example.single_pass(tmp_path / "single.mp4")
    assert total == 105
    # Crossfades over frames [25, 30), [50, 55) and [75, 80): windows opening on a transition's
    # first frame, inside one, and on one's last frame.
    windows = example.chunked([0, 25, 28, 53, 79], tmp_path / "chunked.mp4", total)
    _assert_same_render(tmp_path / "single.mp4", tmp_path / "chunked.mp4", total, windows, tmp_path)
    _assert_same_audio(tmp_path / "single.mp4", tmp_path / "chunked.mp4")


def test_narrated_in_windows_across_subtitles_ducking_and_the_video_loop(tmp_path: Path) -> None:
    example = Example("narrated.yaml", tmp_path / "work", width=270, height=480, fps=10)
    total = example.single_pass(tmp_path / "single.mp4")
    assert total > 86
    # The background video loops every 8 s: the last window opens after the loop's first wrap.
    windows = example.chunked([0, 31, 62, 85], tmp_path / "chunked.mp4", total)
    _assert_same_render(tmp_path / "single.mp4", tmp_path / "chunked.mp4", total, windows, tmp_path)
    _assert_same_audio(tmp_path / "single.mp4", tmp_path / "chunked.mp4")


def test_merge_names_expected_and_actual_frames(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline([{"type": "color", "color": "#336699"}], duration=1)
    inputs: dict[str, ResolvedInput] = {}
    window = Window(0, 0, 30)
    plan = plan_segment(tl, OutputSpec(), inputs, window, workdir=tmp_path, output_path=tmp_path / "seg.mp4")
    run_ffmpeg(plan)
    with pytest.raises(RenderFailed, match="holds 30 frames, the plan 31"):
        merge_segments([plan.output], None, tmp_path / "video.mp4", expected_frames=31)
    with pytest.raises(RenderFailed, match="segment gone.mp4 is missing"):
        merge_segments([tmp_path / "gone.mp4"], None, tmp_path / "video.mp4", expected_frames=30)


def test_render_chunked_in_parallel_with_audio(media: dict[str, Path], tmp_path: Path) -> None:
    tl = timeline(
        [{"type": "image", "src": str(media["root"] / "image.jpg"), "kenBurns": {"zoomEnd": 1.3}}],
        [{"type": "text", "text": "Hello", "fontSize": 20, "fadeIn": 0.5, "start": 0.6}],
        [{"type": "audio", "src": str(media["root"] / "tone.wav"), "fadeOut": 0.5}],
        duration=2,
    )
    inputs = fetch_inputs(tl, tmp_path, RenderJob.model_validate(
        {"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob", "metadata": {"name": "x"},
         "spec": {"timeline": tl.model_dump(mode="json", exclude_none=True)}}).spec.inputLimits,
        base_dir=tmp_path)  # fmt: skip
    events: list[float] = []
    # The test pattern is all fine detail: at CRF 10 two encodes of the same frames stay within
    # 40 dB of each other wherever their rate control differs.
    output = OutputSpec(crf=10)
    result = render_chunked(tl, output, tmp_path / "out", workdir=tmp_path / "work", inputs=inputs,
                            workers=3, on_progress=lambda e: events.append(e.percent))  # fmt: skip
    assert len(result.windows) == 3 and result.total_frames == 60
    assert count_video_frames(result.output) == 60
    assert events[-1] == 100.0 and events == sorted(events)
    single = build_plan(tl, output, inputs, workdir=tmp_path / "single", output_path=tmp_path / "single.mp4")
    run_ffmpeg(single)
    _assert_same_render(single.output, result.output, 60, result.windows, tmp_path)
    _assert_same_audio(single.output, result.output)


def test_cli_render_with_workers(media: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        json.dumps({
            "apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob", "metadata": {"name": "workers"},
            "spec": {"timeline": {"width": 160, "height": 284, "fps": 30, "duration": 3, "tracks": [
                {"clips": [{"type": "video", "src": str(media["root"] / "clip.mp4"), "loop": True}]},
            ]}, "output": {"thumbnail": False}},
        }),
        encoding="utf-8",
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "reelkube.cli", "render", str(manifest), "-o", str(tmp_path / "out"), "--json",
         "--workers", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["frames"] == 90 and report["info"]["chunks"] == 2
    assert count_video_frames(Path(report["outputs"]["video"]["path"])) == 90
    bad = subprocess.run(
        [sys.executable, "-m", "reelkube.cli", "render", str(manifest), "--workers", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "expected at least 1" in bad.stderr


def _ffmpeg_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and command.startswith(b"ffmpeg"):
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_every_window(media: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "long.json"
    manifest.write_text(
        json.dumps({
            "apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob", "metadata": {"name": "long"},
            "spec": {"output": {"preset": "veryslow", "thumbnail": False},
                     "timeline": {"width": 640, "height": 360, "duration": 30, "tracks": [
                         {"clips": [{"type": "video", "src": str(media["clip"]), "loop": True}]}]}},
        }),
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelkube.cli", "render", str(manifest), "-o", str(out), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        ffmpegs: list[int] = []
        while len(ffmpegs) < 2 and time.monotonic() < deadline:  # two windows (and the soundtrack)
            time.sleep(0.2)
            ffmpegs = _ffmpeg_children(proc.pid)
        assert len(ffmpegs) >= 2, "the windows' ffmpeg processes never ran"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in ffmpegs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in ffmpegs)
    assert not (out / "video.mp4").exists()
    assert not list(out.glob(".reelkube-work-*"))  # segments went with the scratch directory


@pytest.mark.parametrize(
    ("clip", "bounds"),
    [
        # 25 fps media at 30 fps, trimmed, fading in, holding its last frame from 1.7 s: the last
        # window opens after the media's end.
        ({"trimStart": 0.3, "duration": 3, "fadeIn": 0.2}, [0, 20, 45, 80]),
        # Looping from trimStart 0.5: the media restarts at 0 after 1.5 s; windows open before and
        # after the wrap.
        ({"trimStart": 0.5, "duration": 5, "loop": True}, [0, 40, 61, 100]),
    ],
)
def test_video_clip_windows(
    media: dict[str, Path], tmp_path: Path, clip: dict[str, Any], bounds: list[int]
) -> None:
    tl = timeline([{"type": "video", "src": str(media["root"] / "clip.mp4"), "volume": 0.8, **clip}])
    _assert_windows_match_single_pass(tl, bounds, tmp_path)


def test_window_opening_on_a_transition_under_a_tint(media: dict[str, Path], tmp_path: Path) -> None:
    # The window's first frame is the crossfade's first: xfade's own timestamps after the fade
    # step back there, and the tint laid over the chain would drop frames.
    image = str(media["root"] / "image.jpg")
    tl = timeline(
        [{"type": "image", "src": image, "duration": 2, "kenBurns": {"zoomEnd": 1.4, "panX": 1}},
         {"type": "image", "src": image, "duration": 2, "kenBurns": {"zoomStart": 1.5, "panX": -1},
          "transition": {"type": "fade", "duration": 0.5}}],
        [{"type": "color", "color": "#000000", "opacity": 0.35}],
    )  # fmt: skip
    _assert_windows_match_single_pass(tl, [0, 45], tmp_path)


def _assert_windows_match_single_pass(tl: Timeline, bounds: list[int], tmp_path: Path) -> None:
    limits = RenderJob.model_validate(
        {"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob", "metadata": {"name": "x"},
         "spec": {"timeline": tl.model_dump(mode="json", exclude_none=True)}}
    ).spec.inputLimits  # fmt: skip
    inputs = fetch_inputs(tl, tmp_path, limits, base_dir=tmp_path)
    output = OutputSpec(crf=10)  # the test pattern is all fine detail (see above)
    single = build_plan(tl, output, inputs, workdir=tmp_path / "single", output_path=tmp_path / "single.mp4")
    run_ffmpeg(single)
    edges = [*bounds, single.total_frames]
    windows = [Window(i, a, b) for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))]
    segments = []
    for window in windows:
        plan = plan_segment(tl, output, inputs, window, workdir=tmp_path / f"w{window.index}",
                            output_path=tmp_path / f"seg{window.index}.mp4")  # fmt: skip
        run_ffmpeg(plan)
        segments.append(plan.output)
    sound = plan_soundtrack(tl, output, inputs, workdir=tmp_path, output_path=tmp_path / "sound.m4a")
    if sound is not None:
        run_ffmpeg(sound)
    merge_segments(
        segments,
        sound.output if sound else None,
        tmp_path / "chunked.mp4",
        expected_frames=single.total_frames,
    )
    _assert_same_render(single.output, tmp_path / "chunked.mp4", single.total_frames, windows, tmp_path)
    if sound is not None:
        _assert_same_audio(single.output, tmp_path / "chunked.mp4")


def test_a_window_opening_inside_a_transition_stays_in_4_2_0(tmp_path: Path) -> None:
    """xfade works in 4:4:4. When a window opens inside a transition, xfade's frames come first
    in the concat, and ffmpeg gave the whole concat their format: every frame of the window went
    to 4:4:4 and back (a 30 s window of a slideshow took 2.4x the CPU of its neighbour). The
    graph turns xfade's frames back first, so ffmpeg inserts no conversion before the concat."""
    example = Example("slideshow.yaml", tmp_path / "work", width=320, height=180, fps=10)
    plan = plan_segment(
        example.timeline, example.output, example.inputs, Window(1, 28, 53),
        workdir=tmp_path / "w1", output_path=tmp_path / "seg.mp4",
    )  # fmt: skip
    assert "offset=-" in plan.filter_graph  # the window opens inside the crossfade over [25, 30)
    plan.write_files()
    argv = [a for a in plan.argv if a not in ("-v", "error")]
    first_frame = ["-map", "[vout]", "-frames:v", "1", "-v", "verbose", "-f", "null", "-"]
    argv = argv[: argv.index("-map")] + first_frame
    log = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stderr
    inserted = [line for line in log.splitlines() if "auto-inserting filter" in line]
    assert any("Parsed_xfade" in line for line in inserted), log[-2000:]  # xfade's own inputs
    assert not [line for line in inserted if "and the filter 'Parsed_concat" in line], inserted
