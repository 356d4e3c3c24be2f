"""The job-level API: fetch inputs, plan, run ffmpeg, describe the results.

`render_timeline` renders one timeline into a directory; `render_job` does the same for a
RenderJob, expanding its template first. The command line and the in-pod runner call these.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.api.output import OutputSpec
from reelkube.api.status import Step
from reelkube.api.timeline import Timeline
from reelkube.engine.artifacts import LocalArtifact, MediaFacts, describe_file
from reelkube.engine.chunks import chunk_count, render_chunked
from reelkube.engine.encoders import (
    CONTENT_TYPES,
    EXTENSIONS,
    GpuFallback,
    choose_encoder,
    gpu_encoder,
    settle_gpu_encoder,
)
from reelkube.engine.execute import probe_encoder, run_ffmpeg
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.plan import (
    THUMBNAIL_FORMATS,
    RenderPlan,
    build_plan,
    thumbnail_path,
    thumbnail_seconds,
    wants_thumbnail,
)
from reelkube.errors import RenderFailed
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress

log = logging.getLogger(__name__)

KEEP_WORKDIR_ENV = "REELKUBE_KEEP_WORKDIR"


@dataclass
class RenderResult:
    """What a render produced and how it went."""

    outputs: dict[str, LocalArtifact]
    frames: int
    duration: float
    encoder: str
    wall_seconds: float
    command_line: str
    info: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (`reelkube render --json`)."""
        return {
            "outputs": {name: a.as_dict() for name, a in self.outputs.items()},
            "frames": self.frames,
            "duration": self.duration,
            "encoder": self.encoder,
            "wallSeconds": round(self.wall_seconds, 3),
            "info": self.info,
        }


def render_timeline(
    timeline: Timeline,
    output: OutputSpec,
    out_dir: Path,
    *,
    base_dir: Path,
    limits: InputLimits | None = None,
    on_progress: ProgressCallback = ignore_progress,
    name: str = "video",
    storage: StorageSpec | None = None,
    policy: InputPolicy | None = None,
) -> RenderResult:
    """Render `timeline` into `out_dir/<name>.<ext>` (plus `thumbnail.jpg` for videos when
    `output.thumbnail`). Local inputs are relative to `base_dir`; every input is fetched under
    `policy` (default: the local one)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out_dir) as workdir:
        return render_into(timeline, output, out_dir, workdir, base_dir, limits or InputLimits(), on_progress,
                       name, storage, policy)  # fmt: skip


def render_into(
    timeline: Timeline,
    output: OutputSpec,
    out_dir: Path,
    workdir: Path,
    base_dir: Path,
    limits: InputLimits,
    on_progress: ProgressCallback,
    name: str,
    storage: StorageSpec | None,
    policy: InputPolicy | None = None,
) -> RenderResult:
    """Render `timeline` into `out_dir` using `workdir` for inputs and graph files; inputs are
    fetched under `policy` (default: the local one)."""
    started = time.monotonic()
    inputs = fetch_inputs(
        timeline, workdir, limits, base_dir=base_dir, storage=storage, on_progress=on_progress, policy=policy
    )
    target = out_dir / f"{name}.{EXTENSIONS[output.format]}"
    output, fallback = choose_gpu_or_cpu(output, on_progress)
    thumbnail = thumbnail_path(output, workdir)
    plan = build_plan(timeline, output, inputs, workdir=workdir, output_path=target, thumbnail=thumbnail)
    encoder = fallback.label(plan.encoder) if fallback else plan.encoder
    workers = local_workers(plan.duration, output, LOCAL_WORKERS.get())
    info: dict[str, Any] = {}
    composed: Path | None = None
    if workers > 1:
        chunked = render_chunked(timeline, output, out_dir, workdir=workdir, inputs=inputs, workers=workers,
                                 on_progress=on_progress, name=name)  # fmt: skip
        command_line = "\n".join(chunked.command_lines)
        info["chunks"] = len(chunked.windows)
    else:
        try:
            run_ffmpeg(plan, on_progress)
        except RenderFailed as failure:
            if not _thumbnail_failed(plan, failure):
                raise
            # The thumbnail is an extra: render the video alone, the JPEG comes from it after.
            log.warning("event=thumbnail_branch_failed output=%s cause=%r", target, str(failure)[-300:])
            plan = build_plan(timeline, output, inputs, workdir=workdir, output_path=target)
            run_ffmpeg(plan, on_progress)
        command_line = plan.command_line()
        composed = plan.thumbnail
    outputs = describe_rendered(name, target, output, plan.duration, size=(plan.width, plan.height),
                                composed_thumbnail=composed, video_facts=True)  # fmt: skip
    return RenderResult(
        outputs=outputs,
        frames=plan.total_frames,
        duration=plan.duration,
        encoder=encoder,
        wall_seconds=time.monotonic() - started,
        command_line=command_line,
        info=info,
    )


LOCAL_WORKERS: ContextVar[int | Literal["auto"]] = ContextVar("reelkube_local_workers", default=1)
"""How many local ffmpeg processes render one video (`reelkube render --workers`): a number, or
"auto". One in a pod, where the operator chunks a render across pods instead."""

LOCAL_MIN_CHUNK_SECONDS = 10.0
"""With "auto", a video is split only into windows at least this long (the chart's default
`jobs.minChunkSeconds` too): the 10 s example reel measured no gain from two windows on two
cores (one ffmpeg already keeps about 1.6 cores busy), so short videos stay one process."""


def local_workers(duration: float, output: OutputSpec, requested: int | Literal["auto"]) -> int:
    """The number of windows (and ffmpeg processes) for a local render of `duration` seconds:
    `requested` when a number (1 for formats that are not chunked), else one per core when the
    video is long enough, at least `LOCAL_MIN_CHUNK_SECONDS` per window. GPU encodes stay in
    one process (consumer GPUs allow few NVENC sessions)."""
    if requested == "auto":
        if output.gpu:
            return 1
        cores = os.cpu_count() or 1
        return chunk_count(duration, "auto", min_seconds=LOCAL_MIN_CHUNK_SECONDS, max_chunks=cores,
                           format=output.format)  # fmt: skip
    return chunk_count(duration, requested, max_chunks=max(requested, 1), format=output.format)


def choose_gpu_or_cpu(
    output: OutputSpec, on_progress: ProgressCallback
) -> tuple[OutputSpec, GpuFallback | None]:
    """For a GPU output: probe NVENC and fall back to the CPU encoder when it does not work
    (EncoderUnavailable instead with ``requireGpuEncoder``), saying so in the log and the
    progress; a CPU output as it is."""
    encoder = gpu_encoder(output)
    if encoder is None:
        return output, None
    failure = probe_encoder(encoder)
    settled, fallback = settle_gpu_encoder(output, failure)
    if fallback is None:
        log.info("event=gpu_encoder encoder=%s", encoder)
        on_progress(ProgressEvent(step=Step.RENDERING, percent=0.0, encoder=encoder))
        return settled, None
    cpu = choose_encoder(settled).video
    log.warning("event=gpu_encoder_fallback encoder=%s fallback=%s cause=%r", encoder, cpu, fallback.cause)
    said = f"{encoder} unavailable on this node, encoding with {cpu} on the CPU"
    on_progress(ProgressEvent(step=Step.RENDERING, percent=0.0, encoder=fallback.label(cpu), message=said))
    return settled, fallback


def _thumbnail_failed(plan: RenderPlan, failure: RenderFailed) -> bool:
    """Whether ``failure`` is the thumbnail branch's (its file or its JPEG encoder), not the video's."""
    if plan.thumbnail is None:
        return False
    said = str(failure)
    return str(plan.thumbnail) in said or "[mjpeg @" in said or "[image2 @" in said


def describe_rendered(
    name: str,
    target: Path,
    output: OutputSpec,
    duration: float,
    *,
    size: tuple[int, int] | None = None,
    composed_thumbnail: Path | None = None,
    video_facts: bool = False,
) -> dict[str, LocalArtifact]:
    """The rendered file as ``name``, and ``thumbnail`` beside it when ``output`` asks for one
    (videos only). ``composed_thumbnail``: the JPEG the render's own ffmpeg wrote, moved beside
    the video when it is there; otherwise a second ffmpeg takes it from the video, while this
    thread hashes and probes the file. ``size``: the video's width and height when the caller
    knows them (else the JPEG is probed). ``video_facts``: describe an MP4 or WebM file by
    ``duration`` and ``size``, the frames the render was planned (and checked) to write, instead
    of probing it (an ffprobe after the last frame: 0.1 s of every `reelkube render`)."""
    thumbnail: Future[LocalArtifact | None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnail") as pool:
        if wants_thumbnail(output):
            thumb_path = target.parent / "thumbnail.jpg"
            if composed_thumbnail is not None and _moved(composed_thumbnail, thumb_path):
                thumbnail = pool.submit(_describe_thumbnail, thumb_path, size)
            else:
                thumbnail = pool.submit(make_thumbnail, target, thumb_path, duration, size=size)
        facts = None
        if video_facts and size is not None and output.format in THUMBNAIL_FORMATS:
            facts = MediaFacts(duration=round(duration, 6), width=size[0], height=size[1])
        outputs = {name: describe_file(target, CONTENT_TYPES[output.format], facts=facts)}
        thumb = thumbnail.result() if thumbnail is not None else None
    if thumb is not None:
        outputs["thumbnail"] = thumb
    return outputs


def make_thumbnail(
    video: Path, target: Path, duration: float, *, size: tuple[int, int] | None = None
) -> LocalArtifact | None:
    """A JPEG from about 10% into the video (at least 1 s, never past the end); None on failure.
    ``size``: the video's width and height when the caller knows them (the JPEG has the video's
    size, so it is not probed for it)."""
    at = thumbnail_seconds(duration)
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video),
            "-frames:v", "1", "-q:v", "3", "-update", "1", str(target)]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        log.warning("event=thumbnail_failed reason=timeout video=%s", video)
        return None
    if proc.returncode != 0 or not target.is_file():
        log.warning("event=thumbnail_failed video=%s stderr=%r", video, proc.stderr.strip()[-300:])
        return None
    return _describe_thumbnail(target, size)


def _describe_thumbnail(path: Path, size: tuple[int, int] | None) -> LocalArtifact:
    facts = None if size is None else MediaFacts(duration=None, width=size[0], height=size[1])
    return describe_file(path, "image/jpeg", facts=facts)


def _moved(source: Path, target: Path) -> bool:
    """Move the render's JPEG to ``target``; False (the caller makes one instead) when it is
    missing, empty, or cannot be moved there."""
    try:
        if source.stat().st_size == 0:
            return False
        os.replace(source, target)
    except OSError as exc:
        log.warning("event=thumbnail_not_moved source=%s cause=%s", source, exc)
        return False
    return True


@contextmanager
def scratch_dir(out_dir: Path) -> Iterator[Path]:
    """A scratch directory inside `out_dir`, removed afterwards unless REELKUBE_KEEP_WORKDIR=1."""
    path = Path(tempfile.mkdtemp(prefix=".reelkube-work-", dir=out_dir))
    try:
        yield path
    finally:
        if os.environ.get(KEEP_WORKDIR_ENV) == "1":
            log.info("event=workdir_kept path=%s", path)
        else:
            shutil.rmtree(path, ignore_errors=True)
