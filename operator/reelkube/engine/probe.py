"""ffprobe, once per input: the facts the planner needs (duration, size, audio, still or not)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelkube.errors import InputForbidden, InputTooLarge, InputUnreadable

log = logging.getLogger(__name__)

# What ffmpeg and ffprobe may open: the files Reelkube fetched and checked, and pipes. Every other
# protocol (http, tcp, data, concat:, subfile, crypto, ...) is refused, also for the nested
# opens of a playlist or concat list disguised as media (demuxers inherit the whitelist).
INPUT_PROTOCOLS = "file,pipe"
# Demuxers whose files name other files, URLs or filter graphs: never used on an input, so
# their header (where the named things are opened) is never read, even for local files.
REFERENCE_FORMATS = frozenset(
    {"hls", "applehttp", "concat", "dash", "imf", "webm_dash_manifest", "sdp", "rtsp", "rtp",
     "lavfi", "avisynth", "vapoursynth"}
)  # fmt: skip

# Demuxers that hold a single picture: probed as stills, decoded once.
_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe_still"}
_IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "jpeg2000", "jpegls", "qoi"}
# What ffmpeg's image checks print when a frame's declared size is over -max_pixels (or over
# what it can allocate at all): the header was read, the picture never decoded.
REFUSED_PICTURE = re.compile(r"Picture size (\d+)x(\d+) (?:exceeds|is invalid)")


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about one file."""

    duration: float | None
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool
    is_still: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    format_name: str | None = None
    has_alpha: bool = False
    """The picture carries transparency (e.g. an RGBA PNG)."""

    @property
    def has_picture(self) -> bool:
        return self.has_video and self.width is not None and self.height is not None


@dataclass(frozen=True)
class ResolvedInput:
    """A clip's source made local: where it lies and what it holds."""

    src: str
    path: Path
    kind: str
    """video, image, audio or subtitles."""
    size: int
    info: MediaInfo | None = None
    """Probed facts; None for subtitle files (parsed by the planner instead)."""
    max_pixels: int | None = None
    """The render's decoder refuses any frame of this input over this many pixels: the probe saw
    the first frames only, and a stream may change its picture size later."""


_DEMUXERS_LOCK = threading.Lock()
_demuxers: str | None = None
_STARTED_LOCK = threading.Lock()
_listing_started = False


def allowed_demuxers() -> str:
    """Every demuxer this ffmpeg has except REFERENCE_FORMATS, as ``-format_whitelist`` wants it.

    ffmpeg has no format blacklist; a whitelist of all the others does the same and keeps every
    media format this build reads. Empty when ffprobe cannot list them (probing fails then too).
    Listed once per process; a caller that comes while :func:`list_demuxers_early` lists them
    waits for that listing.
    """
    global _demuxers
    with _DEMUXERS_LOCK:
        if _demuxers is not None:
            return _demuxers
        listed, complete = _list_demuxers()
        if complete:  # an ffprobe stopped midway (a canceled run) may have listed only some
            _demuxers = listed
        return listed


def list_demuxers_early() -> None:
    """Start listing the demuxers on a thread of its own, so that the first probe finds them ready.

    The listing is an ffprobe start (about 0.1 s, mostly loading its libraries) that every render
    pays before its first probe; started where a run begins, it overlaps with reading the
    manifest and expanding the template, which use this process's CPU and not that one's.
    """
    global _listing_started
    with _STARTED_LOCK:
        if _listing_started:  # the command line starts it, then the pipeline asks again
            return
        _listing_started = True
    threading.Thread(target=allowed_demuxers, name="list-demuxers", daemon=True).start()


def _list_demuxers() -> tuple[str, bool]:
    """The whitelist, and whether ffprobe listed every demuxer (it ended normally)."""
    try:
        proc = subprocess.run(
            ["ffprobe", "-hide_banner", "-demuxers"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "", True
    names = []
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("D", "DE"):
            names.append(fields[1])
    listed = ",".join(name for name in names if not REFERENCE_FORMATS.intersection(name.split(",")))
    return listed, proc.returncode == 0


def input_restrictions() -> list[str]:
    """The per-input options that confine ffmpeg and ffprobe to the checked local file."""
    demuxers = allowed_demuxers()
    return ["-protocol_whitelist", INPUT_PROTOCOLS] + (["-format_whitelist", demuxers] if demuxers else [])


def with_input_protocols(argv: list[str]) -> list[str]:
    """``argv`` with :func:`input_restrictions` before each ``-i`` (per-input options in ffmpeg)."""
    restricted: list[str] = []
    for arg in argv:
        if arg == "-i":
            restricted += input_restrictions()
        restricted.append(arg)
    return restricted


def ffprobe_json(path: Path, *, timeout: float = 60.0, max_pixels: int | None = None) -> dict[str, Any]:
    """Run ffprobe and return its JSON (format and streams); InputUnreadable on failure.

    With `max_pixels`, ffprobe decodes no frame over that many pixels (to find a stream's
    parameters it decodes the first frame: a 10,000 x 10,000 PNG took 346 MB), and a frame whose
    header declares more raises InputTooLarge.
    """
    limit = ["-max_pixels", str(max_pixels)] if max_pixels is not None else []
    argv = [
        "ffprobe", "-v", "error", *input_restrictions(), *limit,
        "-print_format", "json", "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InputUnreadable(f"ffprobe timed out reading {path.name}") from exc
    if max_pixels is not None and (refused := REFUSED_PICTURE.search(proc.stderr)):
        check_pixels(path.name, int(refused.group(1)), int(refused.group(2)), max_pixels)
    if proc.returncode != 0 and "Format not on whitelist" in proc.stderr:
        raise InputForbidden(f"{path.name} is a playlist or list that names other files or URLs")
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-3:] or ["no output"]
        raise InputUnreadable(f"ffprobe cannot read {path.name}: {' | '.join(detail)}")
    data: dict[str, Any] = json.loads(proc.stdout or "{}")
    return data


def probe_media(path: Path, *, max_pixels: int | None = None) -> MediaInfo:
    """Probe one media file. Raises InputUnreadable when ffprobe fails or finds no streams, and
    InputTooLarge when a picture is over `max_pixels` (width x height), before anything decodes
    it: ffprobe reads the size from the header and decodes no frame over the limit."""
    data = ffprobe_json(path, max_pixels=max_pixels)
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    if not streams:
        raise InputUnreadable(f"ffprobe finds no audio or video stream in {path.name}")
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    format_name = str(fmt.get("format_name") or "")
    duration = _float(fmt.get("duration")) or _float((video or audio or {}).get("duration"))
    width = height = None
    if video is not None:
        width, height = int(video.get("width") or 0) or None, int(video.get("height") or 0) or None
        if _rotation(video) in (90, 270) and width and height:
            width, height = height, width
    if max_pixels is not None and width and height:
        check_pixels(path.name, width, height, max_pixels)
    frames = int((video or {}).get("nb_frames") or 0)
    is_still = video is not None and (
        format_name in _IMAGE_FORMATS
        or (video.get("codec_name") in _IMAGE_CODECS and frames <= 1 and audio is None)
    )
    return MediaInfo(
        duration=None if is_still else duration,
        width=width,
        height=height,
        has_video=video is not None,
        has_audio=audio is not None,
        is_still=is_still,
        video_codec=(video or {}).get("codec_name"),
        audio_codec=(audio or {}).get("codec_name"),
        format_name=format_name or None,
        has_alpha=video is not None and _has_alpha(str(video.get("pix_fmt") or "")),
    )


def check_pixels(name: str, width: int, height: int, max_pixels: int) -> None:
    """InputTooLarge when a `width` x `height` picture is over `max_pixels`."""
    if width * height > max_pixels:
        raise InputTooLarge(
            f"{name} is {width}x{height} pixels ({width * height:,}), over "
            f"inputLimits.maxPixels={max_pixels:,}; decoding it would need "
            f"{width * height * 4 / 2**20:,.0f} MiB per frame"
        )


def _has_alpha(pix_fmt: str) -> bool:
    return pix_fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "ya", "gbrap")) or pix_fmt in ("pal8",)


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(abs(float(side["rotation"]))) % 360
    tags = stream.get("tags") or {}
    return int(abs(float(tags.get("rotate", 0)))) % 360
