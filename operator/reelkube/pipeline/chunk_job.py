"""The pods of a chunked RenderJob (``spec.output.chunks``): a segment pod per window, in the
operator's Indexed Job, then one merge pod.

Both expand the template (or take the timeline), fetch the inputs under the input policy and
plan the whole render the same way, so they agree on the windows
(:func:`reelkube.engine.chunks.split_windows` of the plan's frames into the operator's count,
``REELKUBE_CHUNK_COUNT``) and on each window's content key
(:func:`reelkube.engine.chunks.segment_key`).

- The **segment pod** (index ``JOB_COMPLETION_INDEX``) plans its window, looks the key up in
  storage and reuses a stored segment younger than the chart's lifetime (a cache hit), or renders
  the window and stores it. It reports into its own entry of ``status.chunks`` only (a map keyed
  by index: parallel pods' merge patches never overwrite each other); the operator sums the
  entries into ``status.progress``.
- The **merge pod** mixes the soundtrack once for the whole timeline, downloads the segments,
  joins them by stream copy (:func:`reelkube.engine.merge.merge_segments`, which checks the frame
  count), then uploads and reports the outputs like a single render. Segments stored outside the
  cache (``chunkCache: false``) are deleted afterwards.

The cache lives in the namespace's area of the storage (:func:`reelkube.storage.keys.
segment_object_key`). An entry older than ``jobs.chunkCacheTTLSeconds`` counts as a miss, and the
segment pod that finds it deletes it before rendering the window again; entries nobody looks up
again stay until a bucket lifecycle rule on ``<prefix>/<namespace>/_chunk-cache/`` removes them
(the chart README says so).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelkube.api.common import StorageSpec
from reelkube.api.kinds import ResourceKind
from reelkube.api.pod_contract import (
    CHUNK_CACHE_TTL_ENV,
    CHUNK_COUNT_ENV,
    CHUNK_INDEX_ENV,
    CHUNK_RENDER_SHARE,
    CHUNK_ROLE_MERGE,
    CHUNK_ROLE_SEGMENT,
)
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import Step
from reelkube.errors import SpecError, StorageFailed
from reelkube.input_policy import InputPolicy
from reelkube.pipeline.outputs import upload_outputs
from reelkube.pipeline.run import StatusReport
from reelkube.progress_events import ProgressCallback, ProgressEvent
from reelkube.storage.keys import s3_uri, segment_object_key

if TYPE_CHECKING:
    from reelkube.engine.chunks import Window
    from reelkube.engine.plan import RenderPlan
    from reelkube.engine.probe import ResolvedInput

log = logging.getLogger(__name__)

SEGMENT_CONTENT_TYPE = "video/mp4"
SEGMENT_DOWNLOAD_TIMEOUT = 600.0
SEGMENT_MAX_BYTES = 20 * 1024**3
"""A segment larger than this is not one this engine wrote (the download refuses it)."""
DEFAULT_CACHE_TTL_SECONDS = 7 * 86400


@dataclass(frozen=True)
class ChunkEnv:
    """What the operator told a chunk or merge pod (:mod:`reelkube.api.pod_contract`)."""

    role: str
    count: int
    index: int
    cache_ttl_seconds: int

    @classmethod
    def from_env(cls, role: str, environ: Mapping[str, str]) -> ChunkEnv:
        """Read the pod's environment; SpecError naming a variable that is missing or wrong."""
        if role not in (CHUNK_ROLE_SEGMENT, CHUNK_ROLE_MERGE):
            raise SpecError(f"unknown chunk role {role!r}")

        def number(name: str, default: int | None) -> int:
            raw = (environ.get(name) or "").strip()
            if not raw and default is not None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SpecError(f"{name} must be a whole number, got {raw!r}") from None

        count = number(CHUNK_COUNT_ENV, None)
        index = number(CHUNK_INDEX_ENV, None) if role == CHUNK_ROLE_SEGMENT else 0
        if count < 1 or not 0 <= index < count:
            raise SpecError(f"chunk index {index} of {count} is out of range")
        return cls(role, count, index, number(CHUNK_CACHE_TTL_ENV, DEFAULT_CACHE_TTL_SECONDS))


@dataclass(frozen=True)
class MergeProgress(ResourceKind):
    """A kind whose overall progress runs from :data:`CHUNK_RENDER_SHARE` to 100: the merge
    pod's steps come after the windows' frames, which the operator already counted."""

    def overall_percent(self, step: Step, step_percent: float) -> float:
        """The merge's own progress scaled into the last few percent."""
        own = super().overall_percent(step, step_percent)
        if step == Step.DONE:
            return 100.0
        return CHUNK_RENDER_SHARE + (100 - CHUNK_RENDER_SHARE) * own / 100.0


def merge_progress_kind(kind: ResourceKind) -> ResourceKind:
    """``kind`` with the merge pod's share of the progress (see :class:`MergeProgress`)."""
    return MergeProgress(**{f.name: getattr(kind, f.name) for f in fields(kind)})


# --- storage of segments --------------------------------------------------------------------


class SegmentStore:
    """Segments of one chunked render in storage: the namespace's cache, or the resource's own
    folder when the cache is off."""

    def __init__(
        self, storage: StorageSpec, job: RenderJob, *, cached: bool, ttl_seconds: int, uid_fallback: str = ""
    ) -> None:
        self.storage = storage
        self.cached = cached
        self.ttl = timedelta(seconds=ttl_seconds)
        meta = job.metadata
        self._namespace = meta.namespace
        self._name = meta.name
        self._uid = meta.uid or uid_fallback

    def key(self, digest: str, index: int) -> str:
        """The object key of window ``index`` whose content key is ``digest``."""
        return segment_object_key(
            self.storage.prefix,
            self._namespace,
            digest=digest,
            cached=self.cached,
            name=self._name,
            uid=self._uid,
            index=index,
        )

    def _client(self) -> Any:
        from reelkube.storage.client import make_s3_client

        return make_s3_client(self.storage)

    def lookup(self, digest: str, index: int, *, now: datetime | None = None) -> bool:
        """Whether a reusable segment is stored: cached, present and younger than the lifetime.
        An expired entry is deleted here (a miss)."""
        if not self.cached:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(digest, index)
        client = self._client()
        try:
            head = client.head_object(Bucket=self.storage.bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageFailed(
                f"cannot look up segment {s3_uri(self.storage.bucket, key)}: {code}"
            ) from None
        except BotoCoreError as exc:
            raise StorageFailed(f"cannot look up segment {s3_uri(self.storage.bucket, key)}: {exc}") from None
        modified = head.get("LastModified")
        moment = now or datetime.now(UTC)
        if isinstance(modified, datetime) and moment - modified > self.ttl:
            log.info("event=chunk_cache_expired key=%s age_s=%.0f", key, (moment - modified).total_seconds())
            self.delete(digest, index)
            return False
        return True

    def put(self, path: Path, digest: str, index: int) -> None:
        """Store a rendered segment."""
        from reelkube.storage import upload_artifact

        upload_artifact(
            path, storage=self.storage, key=self.key(digest, index), content_type=SEGMENT_CONTENT_TYPE
        )

    def fetch(self, digest: str, index: int, dest: Path) -> Path:
        """Download a stored segment to ``dest``; StorageFailed naming it when it is gone."""
        from reelkube.errors import InputError
        from reelkube.storage import download_object

        uri = s3_uri(self.storage.bucket, self.key(digest, index))
        try:
            return download_object(
                uri, dest, max_bytes=SEGMENT_MAX_BYTES, timeout=SEGMENT_DOWNLOAD_TIMEOUT, storage=self.storage
            )
        except InputError as exc:
            raise StorageFailed(
                f"segment {index} ({uri}) cannot be read for the merge: {exc.message}"
            ) from None

    def delete(self, digest: str, index: int) -> None:
        """Delete a stored segment (best effort: a leftover is only space)."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(digest, index)
        try:
            self._client().delete_object(Bucket=self.storage.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            log.warning("event=segment_delete_failed key=%s error=%s", key, exc)


# --- planning shared by both pods -----------------------------------------------------------


@dataclass
class ChunkedPlan:
    """The whole render as both pods plan it: timeline, output, inputs, windows, keys."""

    job: RenderJob
    timeline: Any
    output: Any
    inputs: Mapping[str, ResolvedInput]
    total_frames: int
    fps: float
    windows: list[Window]
    digests: Mapping[str, str]
    artifacts: dict[str, Path]
    info: dict[str, Any]
    encoder: str

    def segment_plan(self, window: Window, *, workdir: Path, output_path: Path) -> RenderPlan:
        """The ffmpeg run rendering ``window``."""
        from reelkube.engine.chunks import plan_segment

        return plan_segment(
            self.timeline, self.output, self.inputs, window, workdir=workdir, output_path=output_path
        )

    def key(self, window: Window, *, workdir: Path) -> str:
        """The content key of ``window``'s segment."""
        from reelkube.engine.chunks import segment_key

        plan = self.segment_plan(
            window, workdir=workdir, output_path=workdir / f"segment-{window.index:03d}.mp4"
        )
        return segment_key(plan, window, self.digests)


def plan_chunked(
    job: RenderJob,
    count: int,
    *,
    workdir: Path,
    base_dir: Path,
    progress: ProgressCallback,
    policy: InputPolicy,
) -> ChunkedPlan:
    """Expand, fetch and plan ``job`` as a whole, and cut it into ``count`` windows."""
    from reelkube.engine.chunks import input_digests, split_windows
    from reelkube.engine.inputs import fetch_inputs
    from reelkube.engine.plan import build_plan
    from reelkube.engine.render import choose_gpu_or_cpu
    from reelkube.pipeline.render_job import expand_job

    spec = job.spec
    expansion = expand_job(job, workdir, progress, base_dir=base_dir, policy=policy)
    output = expansion.output or spec.output
    inputs = fetch_inputs(
        expansion.timeline,
        workdir,
        spec.inputLimits,
        base_dir=base_dir,
        storage=spec.storage,
        on_progress=progress,
        policy=policy,
    )
    output, fallback = choose_gpu_or_cpu(output, progress)
    whole = build_plan(expansion.timeline, output, inputs, workdir=workdir, output_path=workdir / "whole.mp4")
    return ChunkedPlan(
        job=job,
        timeline=expansion.timeline,
        output=output,
        inputs=inputs,
        total_frames=whole.total_frames,
        fps=whole.fps,
        windows=split_windows(whole.total_frames, whole.fps, count),
        digests=input_digests(inputs),
        artifacts=dict(expansion.artifacts),
        info=dict(expansion.info),
        encoder=fallback.label(whole.encoder) if fallback else whole.encoder,
    )


def _storage_for(job: RenderJob, default_storage: StorageSpec | None) -> StorageSpec:
    storage = job.spec.storage or default_storage
    if storage is None:
        raise SpecError(
            "spec.output.chunks: a chunked render passes its segments through storage, and none is"
            " configured (set spec.storage or the chart's storage.bucket), or render in one pod"
        )
    return storage


# --- the segment pod ------------------------------------------------------------------------


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_segment(
    job: RenderJob,
    env: ChunkEnv,
    *,
    out_dir: Path,
    base_dir: Path,
    status: StatusReport,
    default_storage: StorageSpec | None,
    policy: InputPolicy,
) -> str:
    """Render (or reuse) window ``env.index`` of ``job`` and store it; returns "hit" or "miss"
    (or "empty" for an index past the last window of a very short render)."""
    from reelkube.engine.execute import run_ffmpeg
    from reelkube.engine.render import scratch_dir

    storage = _storage_for(job, default_storage)
    entry = str(env.index)
    cached = job.spec.output.chunkCache
    started = time.monotonic()

    mine: dict[str, Any] = {"index": env.index}

    def report(**changed: Any) -> None:
        # The whole entry every time: the reporter coalesces pending writes key by key, and a
        # later framesDone alone would drop the frames and key written before it.
        mine.update(changed)
        status.update(chunks={entry: dict(mine)})

    def on_progress(event: ProgressEvent) -> None:
        if event.encoder is not None:
            status.update(encoder=event.encoder)
        if event.step == Step.RENDERING and event.frame is not None:
            # The operator judges a stall by this time: it moves only when frames do.
            status.update(step=Step.RENDERING.value, lastProgressTime=_now())
            report(framesDone=event.frame)

    out_dir.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out_dir) as workdir:
        plan = plan_chunked(
            job, env.count, workdir=workdir, base_dir=base_dir, progress=on_progress, policy=policy
        )
        if env.index >= len(plan.windows):
            # Fewer frames than windows: this index has nothing to render.
            report(framesDone=0, frames=0, cache="off")
            status.close()
            return "empty"
        window = plan.windows[env.index]
        digest = plan.key(window, workdir=workdir)
        store = SegmentStore(storage, job, cached=cached, ttl_seconds=env.cache_ttl_seconds)
        report(frames=window.frames, key=digest[:16], framesDone=0)
        status.update(encoder=plan.encoder)
        if store.lookup(digest, window.index):
            log.info("event=chunk_cache_hit index=%d key=%s", window.index, digest)
            report(framesDone=window.frames, cache="hit")
            status.close(final={"lastProgressTime": _now()})
            return "hit"
        segment = plan.segment_plan(
            window, workdir=workdir, output_path=workdir / f"segment-{window.index:03d}.mp4"
        )
        run_ffmpeg(segment, on_progress)
        store.put(segment.output, digest, window.index)
    log.info(
        "event=chunk_rendered index=%d frames=%d key=%s cached=%s seconds=%.2f",
        window.index,
        window.frames,
        digest,
        cached,
        time.monotonic() - started,
    )
    report(framesDone=window.frames, cache="miss" if cached else "off")
    status.close(final={"lastProgressTime": _now()})
    return "miss"


# --- the merge pod --------------------------------------------------------------------------


def run_merge(
    job: RenderJob,
    env: ChunkEnv,
    *,
    out_dir: Path,
    base_dir: Path,
    progress: ProgressCallback,
    status: StatusReport,
    default_storage: StorageSpec | None,
    policy: InputPolicy,
) -> dict[str, Any]:
    """Join the stored segments of ``job`` with its soundtrack, upload the outputs like a single
    render and write the final status; returns ``status.outputs``."""
    from reelkube.engine.artifacts import describe_file
    from reelkube.engine.encoders import EXTENSIONS
    from reelkube.engine.execute import run_ffmpeg
    from reelkube.engine.merge import merge_segments
    from reelkube.engine.render import describe_rendered, scratch_dir

    storage = _storage_for(job, default_storage)
    store = SegmentStore(storage, job, cached=job.spec.output.chunkCache, ttl_seconds=env.cache_ttl_seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out_dir) as workdir:
        plan = plan_chunked(
            job, env.count, workdir=workdir, base_dir=base_dir, progress=progress, policy=policy
        )
        status.update(encoder=plan.encoder)
        keys = [plan.key(window, workdir=workdir) for window in plan.windows]
        progress(ProgressEvent(step=Step.RENDERING, percent=0.0))
        segments = [
            store.fetch(digest, window.index, workdir / f"segment-{window.index:03d}.mp4")
            for window, digest in zip(plan.windows, keys, strict=True)
        ]
        from reelkube.engine.chunks import plan_soundtrack

        sound = plan_soundtrack(
            plan.timeline, plan.output, plan.inputs, workdir=workdir, output_path=workdir / "soundtrack.m4a"
        )
        if sound is not None:
            run_ffmpeg(sound)
        target = out_dir / f"video.{EXTENSIONS[plan.output.format]}"
        merge_segments(
            segments, sound.output if sound is not None else None, target, expected_frames=plan.total_frames
        )
        progress(ProgressEvent(step=Step.RENDERING, percent=100.0))
        files = describe_rendered("video", target, plan.output, plan.total_frames / plan.fps)
        for artifact, path in plan.artifacts.items():
            kept = out_dir / path.name
            if path.resolve() != kept.resolve():
                shutil.copy2(path, kept)
            files[artifact] = describe_file(kept)
    progress(ProgressEvent(step=Step.UPLOADING, percent=0.0))
    meta = job.metadata
    outputs = upload_outputs(
        files,
        storage=storage,
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid or "",
        on_fraction=lambda f: progress(ProgressEvent(step=Step.UPLOADING, percent=100 * f)),
    )
    final = {k: v.model_dump(mode="json", exclude_none=True) for k, v in outputs.items()}
    status.close(final={"step": Step.DONE.value, "progress": 100, "etaSeconds": 0, "outputs": final})
    if not store.cached:
        # Segments outside the cache were only for this merge.
        for window, digest in zip(plan.windows, keys, strict=True):
            store.delete(digest, window.index)
    log.info(
        "event=merged resource=%s/%s segments=%d outputs=%s",
        meta.namespace,
        meta.name,
        len(keys),
        ",".join(outputs),
    )
    return final


def run_chunk_role(
    job: Any,
    env: ChunkEnv,
    *,
    out_dir: Path,
    base_dir: Path,
    progress: ProgressCallback,
    status: StatusReport,
    default_storage: StorageSpec | None,
    policy: InputPolicy,
) -> None:
    """Run the pod's part of a chunked render (``env.role``); raises ReelkubeError."""
    if not isinstance(job, RenderJob):
        raise SpecError(f"{job.kind} cannot be rendered in chunks")
    if env.role == CHUNK_ROLE_SEGMENT:
        run_segment(
            job,
            env,
            out_dir=out_dir,
            base_dir=base_dir,
            status=status,
            default_storage=default_storage,
            policy=policy,
        )
    else:
        run_merge(
            job,
            env,
            out_dir=out_dir,
            base_dir=base_dir,
            progress=progress,
            status=status,
            default_storage=default_storage,
            policy=policy,
        )
