"""Small timelines and plans for the engine tests. The planner gets fake probes: planning a
timeline here opens no file and runs no ffmpeg (only subtitle files are read, as text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.engine.inputs import timeline_sources
from reelkube.engine.plan import RenderPlan, build_plan
from reelkube.engine.probe import MediaInfo, ResolvedInput

WIDTH, HEIGHT, FPS = 160, 284, 30

_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
SAMPLE_PROBES: dict[str, MediaInfo] = {
    "image.jpg": MediaInfo(
        duration=None, width=400, height=300, has_video=True, has_audio=False, is_still=True,
        video_codec="mjpeg", format_name="image2",
    ),
    "clip.mp4": MediaInfo(
        duration=2.0, width=320, height=240, has_video=True, has_audio=True, is_still=False,
        video_codec="h264", audio_codec="aac", format_name=_MP4,
    ),
    "silent.mp4": MediaInfo(
        duration=2.0, width=320, height=240, has_video=True, has_audio=False, is_still=False,
        video_codec="h264", format_name=_MP4,
    ),
    "tone.wav": MediaInfo(
        duration=3.0, width=None, height=None, has_video=False, has_audio=True, is_still=False,
        audio_codec="pcm_s16le", format_name="wav",
    ),
}  # fmt: skip
"""What ffprobe says about the sample media that support.media's ``media`` fixture makes (a slow
test in tests/engine/test_plan.py holds the two together)."""


def timeline(*tracks: list[dict[str, Any]], **fields: Any) -> Timeline:
    """A 160x284 30 fps timeline from lists of clip dicts (one list per track)."""
    data = {"width": WIDTH, "height": HEIGHT, "fps": FPS, **fields, "tracks": [{"clips": c} for c in tracks]}
    return Timeline.model_validate(data)


def sample_inputs(tl: Timeline, media_root: Path) -> dict[str, ResolvedInput]:
    """The timeline's inputs as fetching would resolve them, each `src` a sample file name under
    `media_root`, described by :data:`SAMPLE_PROBES` instead of probed."""
    return {
        src: ResolvedInput(
            src=src,
            path=media_root / src,
            kind=kind,
            size=0,
            info=None if kind == "subtitles" else SAMPLE_PROBES[src],
        )
        for src, kind in timeline_sources(tl).items()
    }


def plan_for(
    tl: Timeline, media_root: Path, workdir: Path, output: dict[str, Any] | None = None, name: str = "out.mp4"
) -> RenderPlan:
    """Plan the timeline over the sample media in `media_root` (fake probes: nothing is probed)."""
    spec = OutputSpec.model_validate(output or {})
    return build_plan(tl, spec, sample_inputs(tl, media_root), workdir=workdir, output_path=workdir / name)
