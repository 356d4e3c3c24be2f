"""What a RenderJob produces: container, codec, size, rate and quality, and how long it may be."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from reelkube.api.common import ApiModel, cel
from reelkube.api.timeline import Timeline, VisualClip

DEFAULT_MAX_DURATION_SECONDS = 3600.0
DEFAULT_MAX_FRAMES = 216_000
"""One hour at 60 frames per second."""


class Format(StrEnum):
    MP4 = "mp4"
    WEBM = "webm"
    GIF = "gif"
    PNG = "png"
    JPEG = "jpeg"


class Codec(StrEnum):
    H264 = "h264"
    H265 = "h265"
    VP9 = "vp9"


class AudioCodec(StrEnum):
    AAC = "aac"
    OPUS = "opus"
    NONE = "none"


class Preset(StrEnum):
    ULTRAFAST = "ultrafast"
    SUPERFAST = "superfast"
    VERYFAST = "veryfast"
    FASTER = "faster"
    FAST = "fast"
    MEDIUM = "medium"
    SLOW = "slow"
    SLOWER = "slower"
    VERYSLOW = "veryslow"


STILL_FORMATS = frozenset({Format.PNG, Format.JPEG})
CHUNKED_FORMATS = frozenset({Format.MP4})
"""Formats a render can be split into windows for: segments joined by stream copy need a
container and codec that concatenate cleanly (gif, png and jpeg are one piece; webm renders in
one pod)."""
MAX_CHUNKS = 64
"""Most chunks a spec may ask for (the chart's jobs.maxChunks caps it lower)."""

Chunks = Annotated[
    Annotated[int, Field(ge=1, le=MAX_CHUNKS)] | Literal["auto"],
    # int-or-string: the API server's structural schema has no union of types.
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
]


class OutputSpec(ApiModel):
    """The rendered file. H.264 defaults: libx264, preset veryfast, CRF 23, yuv420p, +faststart."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("self.format != 'webm' || self.codec == 'vp9'", "webm output needs codec vp9"),
                cel("self.format != 'mp4' || self.codec != 'vp9'", "mp4 output takes codec h264 or h265"),
                cel(
                    "!has(self.width) || self.width % 2 == 0 || self.format in ['png', 'jpeg', 'gif']",
                    "video width must be even",
                ),
                cel(
                    "!has(self.height) || self.height % 2 == 0 || self.format in ['png', 'jpeg', 'gif']",
                    "video height must be even",
                ),
                # NVENC encodes H.264 and HEVC only; the CPU fallback must never hide a spec
                # that no GPU could render.
                cel(
                    "!has(self.gpu) || !self.gpu || ((!has(self.format) || self.format == 'mp4')"
                    " && (!has(self.codec) || self.codec != 'vp9'))",
                    "gpu encodes h264 or h265 in mp4 only (NVENC has no vp9, gif, png or jpeg encoder)",
                ),
                cel(
                    "!has(self.requireGpuEncoder) || !self.requireGpuEncoder || (has(self.gpu) && self.gpu)",
                    "requireGpuEncoder needs gpu: true",
                ),
                # int-or-string is `dyn` in CEL: test its type before comparing.
                cel(
                    "!has(self.chunks) || (type(self.chunks) == string ? self.chunks == 'auto'"
                    f" : (self.chunks >= 1 && self.chunks <= {MAX_CHUNKS}))",
                    f"chunks is a number from 1 to {MAX_CHUNKS}, or auto",
                ),
                cel(
                    "!has(self.chunks) || self.chunks == 1 || !has(self.format) || self.format == 'mp4'",
                    "chunks splits mp4 video only (webm, gif, png and jpeg render in one pod)",
                ),
            ]
        }
    }

    format: Format = Format.MP4
    """Container or image format: mp4, webm, gif, png or jpeg."""
    codec: Codec = Codec.H264
    """Video codec: h264, h265 or vp9 (webm). Ignored for gif/png/jpeg."""
    width: int | None = Field(default=None, ge=16, le=7680)
    """Frame width in pixels. Empty takes the template's or timeline's width."""
    height: int | None = Field(default=None, ge=16, le=7680)
    """Frame height in pixels. Empty takes the template's or timeline's height."""
    fps: float | None = Field(default=None, gt=0, le=120)
    """Frames per second. Empty takes the template's or timeline's rate."""
    crf: int = Field(default=23, ge=0, le=63)
    """Constant rate factor (quality): lower is better and larger. 0-51 for x264/x265, 0-63 for vp9."""
    preset: Preset = Preset.VERYFAST
    """Encoder speed preset."""
    audioCodec: AudioCodec = AudioCodec.AAC
    """Audio codec: aac (mp4), opus (webm) or none."""
    audioBitrate: str = Field(default="128k", pattern=r"^[0-9]{2,3}k$")
    """Audio bitrate, e.g. `128k`."""
    thumbnail: bool = True
    """Also write a JPEG thumbnail taken at about 10% of the duration (at least 1 s)."""
    gpu: bool = False
    """Encode with NVENC on a GPU node (h264/h265 in mp4 only); the pod requests
    `nvidia.com/gpu: 1`. When NVENC does not work on the node, the render falls back to the CPU
    encoder (libx264/libx265) and says so in `status.encoder`, unless requireGpuEncoder is set."""
    requireGpuEncoder: bool = False
    """With gpu: fail (reason EncoderUnavailable, not retried) instead of falling back to the CPU
    encoder when NVENC does not work on the node."""
    maxDurationSeconds: float = Field(default=DEFAULT_MAX_DURATION_SECONDS, gt=0, le=86400)
    """Longest output accepted, in seconds (default one hour). A timeline whose length is known
    from the spec is refused at validation; any other render when it is planned, before ffmpeg
    starts (reason OutputTooLong). The cluster's admission policy may cap it lower."""
    maxFrames: int = Field(default=DEFAULT_MAX_FRAMES, ge=1, le=10_368_000)
    """Most frames accepted in the output (default 216,000: one hour at 60 fps), checked with
    maxDurationSeconds."""
    chunks: Chunks | None = None
    """Split the render into this many windows rendered by parallel pods (an Indexed Job),
    joined without re-encoding; `auto` picks from the length (at least the chart's
    jobs.minChunkSeconds per chunk, at most jobs.maxChunks). Absent or 1: one pod."""
    chunkCache: bool = True
    """With chunks: reuse a window's segment rendered earlier in this namespace when everything
    that determines its bytes is the same (plan, input contents, encoder, engine version).
    false: render every window and delete the segments after the merge."""

    def chunks_requested(self) -> int | Literal["auto"] | None:
        """``chunks`` as the engine's chunk_count takes it; None when the output is one piece."""
        if self.format not in CHUNKED_FORMATS:
            return None
        return self.chunks


def output_length_error(seconds: float, frames: int, output: OutputSpec) -> str | None:
    """Why an output of `seconds` and `frames` is over `output`'s caps, naming the cap; None
    when it is within them."""
    if seconds > output.maxDurationSeconds:
        return (
            f"spec.output: the output would last {seconds:,.0f} s, over the cap "
            f"spec.output.maxDurationSeconds={output.maxDurationSeconds:,.0f} s"
        )
    if frames > output.maxFrames:
        return (
            f"spec.output: the output would have {frames:,} frames, over the cap "
            f"spec.output.maxFrames={output.maxFrames:,}"
        )
    return None


def known_length(timeline: Timeline) -> float:
    """The least the timeline can last, from the spec alone (no media probed): its `duration`
    when given, else the latest clip end that the starts and durations in the spec fix."""
    if timeline.duration is not None:
        return timeline.duration
    latest = 0.0
    for track in timeline.tracks:
        previous_end: float | None = 0.0
        for clip in track.clips:
            if clip.start is not None:
                start: float | None = clip.start
            elif clip.startFrame is not None:
                start = clip.startFrame / timeline.fps
            elif previous_end is not None:
                overlap = clip.transition.duration if isinstance(clip, VisualClip) and clip.transition else 0
                start = max(0.0, previous_end - overlap)
            else:
                start = None
            if clip.duration is not None:
                length: float | None = clip.duration
            elif clip.durationFrames is not None:
                length = clip.durationFrames / timeline.fps
            else:
                length = None
            previous_end = None if start is None or length is None else start + length
            latest = max(latest, previous_end or 0.0, start or 0.0)
    return latest
