"""Clip placement: every clip gets a start and end frame at the output rate.

Rules (from the timeline API): a clip with no start follows the previous clip of its track,
overlapping it by its transition's duration; a clip with no duration lasts as long as its media
(video, audio without loop) or to the end of the timeline; the timeline lasts `duration`, or
to the end of the last clip whose end is known. Clips are cut at the timeline's end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from reelkube.api.timeline import AudioClip, Clip, SubtitlesClip, Timeline, VideoClip, VisualClip
from reelkube.errors import SpecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlacedClip:
    """A clip with its resolved frames: it shows for frames `start <= n < end`."""

    clip: Clip
    path: str
    """Field path for messages, e.g. `tracks[0].clips[2]`."""
    start: int
    end: int
    overlap: int = 0
    """Frames shared with the previous clip of the track through a transition (0: none)."""

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ResolvedTimeline:
    tracks: list[list[PlacedClip]]
    total_frames: int
    fps: float


def resolve_timing(
    timeline: Timeline, fps: float, media_seconds: Callable[[Clip], float | None]
) -> ResolvedTimeline:
    """Resolve every clip to frames at `fps`; `media_seconds(clip)` gives a clip's own length
    (None when it has none). Raises SpecError for timings that cannot be resolved."""

    def frames(seconds: float) -> int:
        return round(seconds * fps)

    drafts: list[list[tuple[Clip, str, int, int | None]]] = []
    for t, track in enumerate(timeline.tracks):
        row: list[tuple[Clip, str, int, int | None]] = []
        prev_end: int | None = 0
        for c, clip in enumerate(track.clips):
            path = f"tracks[{t}].clips[{c}]"
            if clip.start is not None:
                start = frames(clip.start)
            elif clip.startFrame is not None:
                start = frames(clip.startFrame / timeline.fps)
            elif prev_end is None:
                raise SpecError(
                    f"spec.timeline.{path}.start: the previous clip has no known end "
                    "(give it a duration, or give this clip a start)"
                )
            else:
                start = max(0, prev_end - (frames(_transition_seconds(clip)) if c > 0 else 0))
            end: int | None
            if clip.duration is not None:
                end = start + max(1, frames(clip.duration))
            elif clip.durationFrames is not None:
                end = start + max(1, frames(clip.durationFrames / timeline.fps))
            else:
                own = None if getattr(clip, "loop", False) else media_seconds(clip)
                end = None if own is None else start + max(1, frames(own))
            row.append((clip, path, start, end))
            prev_end = end
        drafts.append(row)

    if timeline.duration is not None:
        total = max(1, frames(timeline.duration))
    else:
        ends = [end for row in drafts for (_, _, _, end) in row if end is not None]
        if not ends:
            raise SpecError(
                "spec.timeline.duration: no clip has a known length; give the timeline a duration"
            )
        total = max(ends)

    tracks: list[list[PlacedClip]] = []
    for row in drafts:
        placed: list[PlacedClip] = []
        for clip, path, start, end in row:
            end = total if end is None else min(end, total)
            if start >= total or end <= start:
                log.warning("event=clip_skipped clip=%s reason=outside_timeline", path)
                continue
            overlap = 0
            if placed and _transition_seconds(clip) > 0:
                prev = placed[-1]
                overlap = min(prev.end - start, prev.frames - 1, end - start - 1)
                overlap = max(overlap, 0)
            placed.append(PlacedClip(clip=clip, path=path, start=start, end=end, overlap=overlap))
        tracks.append(placed)
    return ResolvedTimeline(tracks=tracks, total_frames=total, fps=fps)


def _transition_seconds(clip: Clip) -> float:
    if isinstance(clip, VisualClip) and clip.transition is not None:
        return clip.transition.duration
    return 0.0


def own_media_seconds(clip: Clip, duration: float | None) -> float | None:
    """A clip's own length from its media's probed duration (after trimStart)."""
    if isinstance(clip, SubtitlesClip) and clip.cues:
        return max(cue.end for cue in clip.cues)
    if isinstance(clip, VideoClip | AudioClip) and duration is not None:
        remaining = duration - clip.trimStart
        if remaining <= 0:
            raise SpecError(f"trimStart {clip.trimStart}s is beyond the end of {clip.src} ({duration:.2f}s)")
        return remaining
    return None
