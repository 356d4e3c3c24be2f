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
import logging
import math
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reelkube.api.output import Format, OutputSpec
from reelkube.api.status import Step
from reelkube.api.timeline import Timeline
from reelkube.engine.execute import run_ffmpeg
from reelkube.engine.filtergraph import escape_option_value
from reelkube.engine.merge import merge_segments
from reelkube.engine.plan import RenderPlan, plan_window
from reelkube.engine.probe import ResolvedInput
from reelkube.errors import Canceled
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress

log = logging.getLogger(__name__)

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


def plan_segment(
    timeline: Timeline,
    output: OutputSpec,
    inputs: Mapping[str, ResolvedInput],
    window: Window,
    *,
    workdir: Path,
    output_path: Path,
) -> RenderPlan:
    """The segment of `window`: video only, exactly the window's frames as a single pass draws
    them, starting on an IDR frame, encoded with the output's settings (MP4 without
    `+faststart`, which the merge applies)."""
    return plan_window(
        timeline,
        output,
        inputs,
        workdir=workdir,
        output_path=output_path,
        window=(window.first, window.last),
        audio=False,
    )


def plan_soundtrack(
    timeline: Timeline,
    output: OutputSpec,
    inputs: Mapping[str, ResolvedInput],
    *,
    workdir: Path,
    output_path: Path,
) -> RenderPlan | None:
    """The whole timeline's audio, mixed and encoded once, as the single pass encodes it (write
    it to an `.m4a`); None when the output has no audio. Never per window: AAC segments joined
    end to end gain priming samples at every join."""
    plan = plan_window(timeline, output, inputs, workdir=workdir, output_path=output_path, video=False)
    return plan if plan.argv else None


def input_digests(inputs: Mapping[str, ResolvedInput]) -> dict[str, str]:
    """`src` -> sha256 of its fetched file's content."""
    return {src: sha256_file(resolved.path) for src, resolved in inputs.items()}


def segment_key(plan: RenderPlan, window: Window, input_digests: Mapping[str, str]) -> str:
    """sha256 hex of what determines a segment's bytes: the plan's command and graph with every
    place-dependent path replaced (inputs by their content digest, the graph's text files by
    their name and content, the output by a placeholder), the window, and ENGINE_VERSION (which
    stands for ffmpeg, the fonts and the planner). The same timeline planned in two workdirs has
    one key; a change that does not reach a window's plan leaves its key as it was."""
    names: dict[str, str] = {str(plan.output): "<output>"}
    for path, src in plan.sources.items():
        if src not in input_digests:
            raise KeyError(f"no content digest for input {src!r}")
        names[path] = f"<input:{input_digests[src]}>"
    for file in plan.files:
        names[str(file)] = f"<file:{file.name}>"
    # Longest first, so that a path is never replaced inside a longer one.
    ordered = sorted(names.items(), key=lambda item: len(item[0]), reverse=True)

    def normalized(text: str) -> str:
        for path, name in ordered:
            text = text.replace(escape_option_value(path), name).replace(path, name)
        return text

    return canonical_digest(
        {
            "engine": ENGINE_VERSION,
            "window": [window.first, window.last],
            "argv": [normalized(arg) for arg in plan.argv],
            "files": {file.name: content for file, content in sorted(plan.files.items())},
        }
    )


@dataclass(frozen=True)
class ChunkedRender:
    """What a chunked local render made: the joined file and the plans behind it."""

    output: Path
    windows: list[Window]
    total_frames: int
    duration: float
    encoder: str
    command_lines: list[str]
    """Each segment's ffmpeg, then the soundtrack's (when there is audio)."""


def render_chunked(
    timeline: Timeline,
    output: OutputSpec,
    out_dir: Path,
    *,
    workdir: Path,
    inputs: Mapping[str, ResolvedInput],
    workers: int,
    on_progress: ProgressCallback = ignore_progress,
    name: str = "video",
) -> ChunkedRender:
    """Render `timeline` into `out_dir/<name>.mp4` as `workers` windows rendered by as many
    ffmpeg processes at once, the soundtrack mixed once beside them, then merged (stream copy).

    Progress is one RENDERING figure over every window's frames. Whatever stops the wait
    (Canceled from a signal, a failing window) stops every running ffmpeg before it is raised.
    """
    whole = plan_window(timeline, output, inputs, workdir=workdir, output_path=out_dir / f"{name}.mp4")
    windows = split_windows(whole.total_frames, whole.fps, workers)
    segments = workdir / "segments"
    plans = [
        plan_segment(timeline, output, inputs, window, workdir=workdir / f"window-{window.index:03d}",
                     output_path=segments / f"segment-{window.index:03d}.mp4")
        for window in windows
    ]  # fmt: skip
    soundtrack = plan_soundtrack(
        timeline, output, inputs, workdir=workdir, output_path=workdir / "soundtrack.m4a"
    )
    progress = _CombinedProgress(on_progress, [plan.total_frames for plan in plans])
    runs: list[tuple[RenderPlan, ProgressCallback]] = [
        (plan, progress.for_window(i)) for i, plan in enumerate(plans)
    ]
    if soundtrack is not None:
        runs.append((soundtrack, progress.stopped_check))
    log.info("event=chunked_render windows=%d workers=%d frames=%d", len(plans), workers, whole.total_frames)
    # The soundtrack runs beside the windows: mixing audio is light next to drawing frames.
    parallel = max(1, workers) + (1 if soundtrack is not None else 0)
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="segment") as pool:
        futures = [pool.submit(run_ffmpeg, plan, report) for plan, report in runs]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            progress.stop()  # each running ffmpeg is stopped at its next progress report
            wait(futures)
            raise
    merge_segments(
        [plan.output for plan in plans],
        soundtrack.output if soundtrack else None,
        whole.output,
        expected_frames=whole.total_frames,
    )
    on_progress(ProgressEvent(step=Step.RENDERING, percent=100.0, frame=whole.total_frames,
                              total_frames=whole.total_frames, eta_seconds=0.0))  # fmt: skip
    return ChunkedRender(
        output=whole.output,
        windows=windows,
        total_frames=whole.total_frames,
        duration=whole.duration,
        encoder=whole.encoder,
        command_lines=[plan.command_line() for plan, _ in runs],
    )


class _CombinedProgress:
    """One progress figure over several ffmpeg runs at once (called from their threads)."""

    def __init__(self, on_progress: ProgressCallback, frames: list[int]) -> None:
        self._on_progress = on_progress
        self._frames = frames
        self._done = [0] * len(frames)
        self._total = max(1, sum(frames))
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def for_window(self, index: int) -> ProgressCallback:
        """The callback of window `index`'s ffmpeg."""

        def report(event: ProgressEvent) -> None:
            self.stopped_check(event)
            with self._lock:
                self._done[index] = min(self._frames[index], event.frame or 0)
                done = sum(self._done)
                percent = min(99.9, 100.0 * done / self._total)
                self._on_progress(ProgressEvent(step=Step.RENDERING, percent=round(percent, 1), frame=done,
                                                total_frames=self._total))  # fmt: skip

        return report

    def stopped_check(self, _event: ProgressEvent) -> None:
        """Raise in an ffmpeg's own thread once the render is stopping (run_ffmpeg then stops
        that ffmpeg and removes its partial output)."""
        if self._stopped.is_set():
            raise Canceled("the chunked render stopped")

    def stop(self) -> None:
        """Stop every run at its next progress report."""
        self._stopped.set()
