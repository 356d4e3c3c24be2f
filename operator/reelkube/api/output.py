"""What a RenderJob produces: container, codec, size, rate and quality."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from reelkube.api.common import ApiModel, cel


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
    """Encode with NVENC on a GPU node (h264/h265 only); the pod requests `nvidia.com/gpu: 1`."""
