"""The status of a chunked render: each window's entry in ``status.chunks`` and the one
``status.progress`` for the whole render, as merge patches. Pure.

Who writes what, so that parallel writers never overwrite each other: ``status.chunks`` is a map
keyed by the window's index, and a JSON merge patch merges maps key by key. Each chunk pod
patches only its own entry (``framesDone``, ``frames``, ``cache``, ``key``:
:mod:`reelkube.pipeline.chunk_job`); the operator writes ``state`` and ``attempts`` of every
entry (:func:`chunk_update`, from the Indexed Job and its pods), ``chunkCount`` and
``chunkSummary``, and sums the pods' frames into ``progress`` and ``currentFrame``
(:func:`chunk_progress_update`) on every change of the resource, so the total is as fresh as the
pods' own writes (one a second each) plus one watch event. Summing in the operator rather than
in the pods: a pod would have to read every other pod's entry and write with a precondition,
retrying on conflicts, to keep the total from going back.
"""

from __future__ import annotations

from typing import Any

from reelkube.api.pod_contract import CHUNK_RENDER_SHARE
from reelkube.api.status import TERMINAL_PHASES, ResourceStatus
from reelkube.controller.job_observation import ChunkView


def chunk_update(current: ResourceStatus, view: ChunkView) -> dict[str, Any]:
    """The operator's fields of ``status.chunks`` (``state``, ``attempts``), ``chunkCount`` and
    ``chunkSummary``; only what changes (may be empty). Attempts never go down: a deleted pod
    is no longer listed, but its attempt happened."""
    patch: dict[str, Any] = {}
    have = current.chunks or {}
    entries: dict[str, Any] = {}
    for index in range(view.count):
        key = str(index)
        old = have.get(key)
        wanted: dict[str, Any] = {"state": view.states.get(index, "Pending")}
        attempts = max(view.attempts.get(index, 0), (old.attempts or 0) if old is not None else 0)
        if attempts:
            wanted["attempts"] = attempts
        changed = {k: v for k, v in wanted.items() if old is None or getattr(old, k) != v}
        if changed:
            entries[key] = {"index": index, **changed}
    if entries:
        patch["chunks"] = entries
    if current.chunkCount != view.count:
        patch["chunkCount"] = view.count
    if current.chunkSummary != view.summary():
        patch["chunkSummary"] = view.summary()
    return patch


CHUNK_PROGRESS_INTERVAL_SECONDS = 1.0
"""At most one summed-progress write a second per resource. Each chunk pod's write (one a second
per pod) is a watch event, and so is the operator's own write: summing on every event wrote 1.6
patches a second for two windows on the project's cluster, some the same patch twice, each one
API-server CPU taken from the windows. Paced, the total is at most about 2 s old."""


def chunk_progress_due(patch: dict[str, Any], last_written: float | None, now: float) -> bool:
    """Whether to write the summed ``patch`` now, the previous one written at ``last_written``
    (monotonic seconds; None: never). The write that completes the windows' share always goes."""
    if last_written is None or now - last_written >= CHUNK_PROGRESS_INTERVAL_SECONDS:
        return True
    return patch.get("progress") == CHUNK_RENDER_SHARE


def chunk_progress_update(current: ResourceStatus) -> dict[str, Any]:
    """``progress`` and ``currentFrame`` of a chunked render, summed over the windows the chunk
    pods report in ``status.chunks``; empty when nothing moves forward. Progress never goes back
    and stays within :data:`CHUNK_RENDER_SHARE` (the merge pod reports the rest)."""
    if current.phase in TERMINAL_PHASES or not current.chunks or not current.chunkCount:
        return {}
    done = sum(entry.framesDone or 0 for entry in current.chunks.values())
    sizes = [entry.frames for entry in current.chunks.values() if entry.frames]
    total = sum(sizes) if len(sizes) == current.chunkCount else (current.totalFrames or 0)
    if total <= 0:
        return {}
    done = min(done, total)
    patch: dict[str, Any] = {}
    percent = CHUNK_RENDER_SHARE * done // total
    if percent > (current.progress or 0):
        patch["progress"] = percent
    if done > (current.currentFrame or 0) and (current.progress or 0) < CHUNK_RENDER_SHARE:
        patch["currentFrame"] = done
        if current.totalFrames != total:
            patch["totalFrames"] = total
    return patch
