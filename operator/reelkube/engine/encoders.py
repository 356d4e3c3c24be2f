"""Output encoders: OutputSpec -> ffmpeg output arguments."""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar
from dataclasses import dataclass, field

from reelkube.api.output import STILL_FORMATS, AudioCodec, Codec, Format, OutputSpec, Preset
from reelkube.errors import EncoderUnavailable

log = logging.getLogger(__name__)

_NVENC_PRESETS = {
    Preset.ULTRAFAST: "p1", Preset.SUPERFAST: "p1", Preset.VERYFAST: "p2", Preset.FASTER: "p3",
    Preset.FAST: "p4", Preset.MEDIUM: "p5", Preset.SLOW: "p6", Preset.SLOWER: "p7", Preset.VERYSLOW: "p7",
}  # fmt: skip
_VP9_CPU_USED = {
    Preset.ULTRAFAST: 5, Preset.SUPERFAST: 5, Preset.VERYFAST: 4, Preset.FASTER: 4, Preset.FAST: 3,
    Preset.MEDIUM: 2, Preset.SLOW: 1, Preset.SLOWER: 0, Preset.VERYSLOW: 0,
}  # fmt: skip

EXTENSIONS = {
    Format.MP4: "mp4",
    Format.WEBM: "webm",
    Format.GIF: "gif",
    Format.PNG: "png",
    Format.JPEG: "jpg",
}
CONTENT_TYPES = {
    Format.MP4: "video/mp4", Format.WEBM: "video/webm", Format.GIF: "image/gif",
    Format.PNG: "image/png", Format.JPEG: "image/jpeg",
}  # fmt: skip


ENCODER_THREADS: ContextVar[int | None] = ContextVar("reelkube_encoder_threads", default=None)
"""Threads for the software video encoder (``-threads``); None: the encoder's own choice, one set
per core it sees. A render pod sets it from its CPU limit (:func:`threads_for_cpu_limit`)."""


def threads_for_cpu_limit(millicores: int | None, cores: int) -> int | None:
    """The encoder threads for a CPU limit of ``millicores`` on a machine of ``cores``: the limit
    rounded up, or None (the encoder's own choice) without a limit or with one of every core.

    x264 sizes its threads by the cores it sees, and a cgroup's CPU limit does not hide them: a
    pod limited to one CPU on a two-core node ran two cores' threads inside one CPU's quota.
    Under a 1-CPU quota on the project's machine, 500 frames of a 1080x1920 slideshow took
    9.81 s with one thread against 10.62 s (medians of 4 alternating runs). The threads change
    the encoded bytes, so they are part of a segment's key (they are in the plan's arguments)."""
    if millicores is None or millicores <= 0:
        return None
    threads = max(1, math.ceil(millicores / 1000))
    return threads if threads < cores else None


def _thread_args() -> list[str]:
    """A software encoder's ``-threads`` when :data:`ENCODER_THREADS` is set (none otherwise)."""
    threads = ENCODER_THREADS.get()
    return [] if threads is None else ["-threads", str(threads)]


@dataclass(frozen=True)
class EncoderChoice:
    """The encoders and their arguments for one OutputSpec."""

    video: str
    audio: str | None
    video_args: list[str]
    audio_args: list[str] = field(default_factory=list)

    @property
    def is_still(self) -> bool:
        return self.video in ("png", "mjpeg")


def choose_encoder(output: OutputSpec) -> EncoderChoice:
    """Pick encoders and arguments. Audio is None for formats that carry none."""
    audio, audio_args = _audio(output)
    if output.format == Format.GIF:
        return EncoderChoice("gif", None, ["-c:v", "gif", "-loop", "0"])
    if output.format == Format.PNG:
        return EncoderChoice("png", None, ["-c:v", "png", "-update", "1"])
    if output.format == Format.JPEG:
        return EncoderChoice("mjpeg", None, ["-c:v", "mjpeg", "-q:v", "2", "-update", "1"])
    crf = str(output.crf)
    if output.codec == Codec.VP9:
        cpu_used = str(_VP9_CPU_USED[output.preset])
        args = ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", crf, "-row-mt", "1", "-deadline", "good",
                "-cpu-used", cpu_used, "-pix_fmt", "yuv420p"]  # fmt: skip
        return EncoderChoice("libvpx-vp9", audio, args + _thread_args(), audio_args)
    if output.gpu:
        name = "h264_nvenc" if output.codec == Codec.H264 else "hevc_nvenc"
        args = ["-c:v", name, "-preset", _NVENC_PRESETS[output.preset], "-rc", "vbr", "-cq", crf,
                "-b:v", "0", "-pix_fmt", "yuv420p"]  # fmt: skip
    elif output.codec == Codec.H265:
        name = "libx265"
        args = ["-c:v", name, "-preset", output.preset.value, "-crf", crf, "-pix_fmt", "yuv420p",
                "-x265-params", "log-level=error"]  # fmt: skip
    else:
        name = "libx264"
        args = ["-c:v", name, "-preset", output.preset.value, "-crf", crf, "-pix_fmt", "yuv420p"]
    if not output.gpu:
        args += _thread_args()
    if output.codec == Codec.H265:
        args += ["-tag:v", "hvc1"]  # QuickTime/Safari play HEVC in MP4 only with the hvc1 tag
    if output.format == Format.MP4:
        args += ["-movflags", "+faststart"]
    return EncoderChoice(name, audio, args, audio_args)


NVENC_ENCODERS = {Codec.H264: "h264_nvenc", Codec.H265: "hevc_nvenc"}
"""The GPU encoder ffmpeg uses for each codec NVENC can encode (the CRD refuses the others)."""


def gpu_encoder(output: OutputSpec) -> str | None:
    """The NVENC encoder ``output`` asks for, or None for a CPU encode."""
    if not output.gpu or output.format != Format.MP4:
        return None
    return NVENC_ENCODERS.get(output.codec)


@dataclass(frozen=True)
class GpuFallback:
    """A GPU encode that runs on the CPU because NVENC does not work on this node."""

    gpu_encoder: str
    """The NVENC encoder that was asked for (h264_nvenc, hevc_nvenc)."""
    cause: str
    """Why it did not work (the last line of ffmpeg's error output)."""

    def label(self, cpu_encoder: str) -> str:
        """``status.encoder`` for the fallback, e.g. ``libx264 (fallback: h264_nvenc
        unavailable: Cannot load libcuda.so.1)``."""
        return f"{cpu_encoder} (fallback: {self.gpu_encoder} unavailable: {self.cause})"


def settle_gpu_encoder(
    output: OutputSpec, nvenc_failure: str | None
) -> tuple[OutputSpec, GpuFallback | None]:
    """The output to encode and the fallback taken, given what probing the NVENC encoder said
    (``nvenc_failure``: None when it works). With ``requireGpuEncoder`` a failing NVENC raises
    EncoderUnavailable (not retryable: the same node class fails the same way) instead."""
    encoder = gpu_encoder(output)
    if encoder is None or nvenc_failure is None:
        return output, None
    if output.requireGpuEncoder:
        raise EncoderUnavailable(
            f"{encoder} does not work on this node ({nvenc_failure}) and spec.output.requireGpuEncoder "
            "is true: schedule on a node with a working NVIDIA driver, or unset requireGpuEncoder "
            "to fall back to the CPU encoder"
        )
    return output.model_copy(update={"gpu": False}), GpuFallback(encoder, nvenc_failure)


def _audio(output: OutputSpec) -> tuple[str | None, list[str]]:
    if output.format in STILL_FORMATS or output.format == Format.GIF or output.audioCodec == AudioCodec.NONE:
        return None, []
    codec = output.audioCodec
    if output.format == Format.WEBM and codec == AudioCodec.AAC:
        log.info("event=audio_codec_switched from=aac to=opus reason=webm_carries_no_aac")
        codec = AudioCodec.OPUS
    name = "aac" if codec == AudioCodec.AAC else "libopus"
    return name, ["-c:a", name, "-b:a", output.audioBitrate, "-ar", "48000"]


def crf_error(output: OutputSpec) -> str | None:
    """Message when the CRF is outside the chosen encoder's range, else None."""
    if output.format in (Format.MP4,) and output.crf > 51 and not output.gpu:
        return f"spec.output.crf: {output.crf} is above 51, the largest CRF for {output.codec.value}"
    if output.gpu and output.crf > 51:
        return f"spec.output.crf: {output.crf} is above 51, the largest -cq for NVENC"
    return None
