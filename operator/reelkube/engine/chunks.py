"""Chunked rendering: one timeline cut into frame windows, each rendered natively by its own
ffmpeg (a pod on the cluster, a process on a laptop), then joined without re-encoding.

A window `[first, last)` is planned by the same planner as a single pass (a single pass is the
window `[0, total)`): inputs are seeked, clips outside the window are left out and every time-
or frame-based expression keeps the timeline's clock, so each window's frames are the frames a
single pass would produce. Segments hold video only; the soundtrack is mixed once for the whole
timeline (joined AAC segments would gain priming samples at every join) and muxed by the merge
(`reelkube.engine.merge`).

A segment's key (`segment_key`) is a digest of everything that determines its bytes, so that
a segment rendered before can be reused when a resource changes elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reelkube.api.output import Format

ENGINE_VERSION = "1"
"""Part of every segment key: bump it whenever the engine's output bytes change for the same
timeline (a filter, an encoder argument, ffmpeg itself), so cached segments are not reused."""

CHUNKABLE_FORMATS = frozenset({Format.MP4})
"""Formats whose segments can be joined by stream copy. GIF (one palette for the whole
animation), PNG and JPEG (one frame) and WebM (not needed yet: VP9 is rarely asked for long
renders) render in one pass."""

MIN_CHUNK_SECONDS = 1.0
"""An explicitly requested chunk count never makes chunks shorter than this: below it the fixed
cost of a process (start, probe, seek, merge) outweighs the frames."""


@dataclass(frozen=True)
class Window:
    """Frames `[first, last)` of the output timeline, rendered as segment number `index`."""

    index: int
    first: int
    last: int

    @property
    def frames(self) -> int:
        """How many frames the window holds."""
        return self.last - self.first


def chunk_count(
    duration_s: float,
    requested: int | Literal["auto"] | None,
    *,
    min_seconds: float = 10.0,
    max_chunks: int = 8,
    format: Format | None = None,
) -> int:
    """How many windows to render a `duration_s` long output in.

    `None` or 1: one (a single pass). A number: that many, at most `max_chunks`, and no chunk
    shorter than `MIN_CHUNK_SECONDS`. `"auto"`: as many as give each chunk at least
    `min_seconds`, at most `max_chunks`. Formats that cannot be joined by stream copy (GIF, PNG,
    JPEG, WebM: see `CHUNKABLE_FORMATS`) always get 1. Pure.
    """
    if requested is None or requested == 1 or duration_s <= 0:
        return 1
    if format is not None and format not in CHUNKABLE_FORMATS:
        return 1
    if requested == "auto":
        wanted = math.floor(duration_s / min_seconds) if min_seconds > 0 else max_chunks
    else:
        if requested < 1:
            raise ValueError(f"chunks must be at least 1, got {requested}")
        wanted = min(requested, math.floor(duration_s / MIN_CHUNK_SECONDS))
    return max(1, min(wanted, max_chunks))


def split_windows(total_frames: int, fps: float, chunks: int) -> list[Window]:
    """`chunks` contiguous windows covering frames `[0, total_frames)`, as equal as whole frames
    allow (never more windows than frames). Pure; `fps` is accepted so that callers state the
    rate the frames are counted at."""
    if total_frames < 1:
        raise ValueError(f"a timeline has at least one frame, got {total_frames}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    count = max(1, min(chunks, total_frames))
    bounds = [total_frames * i // count for i in range(count + 1)]
    return [Window(index=i, first=bounds[i], last=bounds[i + 1]) for i in range(count)]


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def canonical_digest(document: Mapping[str, object]) -> str:
    """sha256 hex of a JSON document with sorted keys (the same document, the same digest)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
