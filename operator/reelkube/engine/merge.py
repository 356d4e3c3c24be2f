"""The merge of a chunked render: segments joined by stream copy, the soundtrack muxed beside
them, `+faststart`, and the joined video's frame count held to the plan's.

Segments made by `reelkube.engine.chunks.plan_segment` start on an IDR frame and share every
encoder setting, so the concat demuxer joins them without re-encoding and with exact frame
counts. The soundtrack is one stream mixed once for the whole timeline, copied as it is.
"""

from __future__ import annotations

import json
import logging
import subprocess
from fractions import Fraction
from pathlib import Path

from reelkube.errors import RenderFailed

log = logging.getLogger(__name__)

MERGE_TIMEOUT_SECONDS = 600.0
"""Copying streams runs at disk speed; ten minutes means something is stuck."""


def merge_segments(
    segments: list[Path],
    soundtrack: Path | None,
    output_path: Path,
    *,
    expected_frames: int,
    timeout: float = MERGE_TIMEOUT_SECONDS,
) -> None:
    """Join `segments` (in order) and mux `soundtrack` (None: no audio) into `output_path`
    without re-encoding. Raises RenderFailed when ffmpeg fails or when the joined video does not
    hold `expected_frames` frames (naming both counts)."""
    if not segments:
        raise RenderFailed("nothing to merge: no segments")
    for segment in segments:
        if not segment.is_file():
            raise RenderFailed(f"cannot merge: segment {segment.name} is missing")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    listing = output_path.with_name(f".{output_path.name}.segments.txt")
    # Each file's exact duration: without it the concat demuxer offsets the next segment by
    # the container's duration, rounded to the MP4 movie timescale (milliseconds), which moves
    # every later frame's timestamp by up to half a millisecond per join.
    entries = [f"file '{_concat_quoted(s.resolve())}'\nduration {_video_duration(s):.6f}\n" for s in segments]
    listing.write_text("".join(entries), encoding="utf-8")
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error",
            "-f", "concat", "-safe", "0", "-i", str(listing)]  # fmt: skip
    if soundtrack is not None:
        argv += ["-i", str(soundtrack), "-map", "0:v:0", "-map", "1:a:0"]
    else:
        argv += ["-map", "0:v:0"]
    argv += ["-c", "copy", "-movflags", "+faststart", str(output_path)]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output_path.unlink(missing_ok=True)
        raise RenderFailed(f"merging {len(segments)} segments took longer than {timeout:g} s") from exc
    finally:
        listing.unlink(missing_ok=True)
    if proc.returncode != 0 or not output_path.is_file():
        output_path.unlink(missing_ok=True)
        detail = "\n".join(proc.stderr.strip().splitlines()[-20:]) or "(no error output)"
        raise RenderFailed(
            f"merging {len(segments)} segments failed (exit code {proc.returncode}):\n{detail}"
        )
    frames = count_video_frames(output_path)
    if frames != expected_frames:
        raise RenderFailed(
            f"the merged video holds {frames} frames, the plan {expected_frames}: a segment is "
            f"short or overlaps its neighbour ({len(segments)} segments joined)"
        )
    log.info("event=merged output=%s segments=%d frames=%d", output_path, len(segments), frames)


def count_video_frames(path: Path, *, timeout: float = 120.0) -> int:
    """The number of packets in the first video stream (one per frame for the encoders a
    segment uses), counted by ffprobe without decoding."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderFailed(f"counting the frames of {path.name} took longer than {timeout:g} s") from exc
    text = proc.stdout.strip().rstrip(",")
    if proc.returncode != 0 or not text.isdigit():
        raise RenderFailed(f"cannot count the frames of {path.name}: {proc.stderr.strip()[-300:]}")
    return int(text)


def _video_duration(path: Path, *, timeout: float = 60.0) -> float:
    """The first video stream's duration, exact in its own time base (not the container's)."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=duration_ts,time_base", "-of", "json", str(path)]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        stream = json.loads(proc.stdout or "{}").get("streams", [{}])[0]
        return float(int(stream["duration_ts"]) * Fraction(stream["time_base"]))
    except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise RenderFailed(f"cannot read the duration of segment {path.name}: {exc!r}") from exc


def _concat_quoted(path: Path) -> str:
    """A path inside the concat demuxer's single quotes (a quote is closed, escaped, reopened)."""
    return str(path).replace("'", "'\\''")
