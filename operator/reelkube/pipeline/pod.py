"""The render pod's side of the pipeline (``reelkube job --resource FILE``): read the mounted
resource, run it with its status written in-cluster, and answer the operator in the terms of
:mod:`reelkube.api.pod_contract`.

Exit codes: 0 done; 1 failed, worth a retry (ffmpeg, storage, timeouts); 2 failed in a way a
retry cannot fix (the error says ``retryable = False``: a bad spec, an input missing, too
large, unreadable or forbidden: the Job's podFailurePolicy then fails at once); 143 stopped by
SIGTERM (its tools killed first, see :mod:`reelkube.pipeline.cancel`; a chunked render's Job
re-runs such a window without counting an attempt, and a single-pod render that fails so is
reported as ``PodStopped``, never as a cancel). On failure the cause is written as JSON
``{"reason", "message"}`` to the termination log, where the operator reads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from reelkube.api.kinds import Resource, ResourceKind, kind_named
from reelkube.api.pod_contract import (
    CHUNK_ROLE_ENV,
    CHUNK_ROLE_MERGE,
    CPU_LIMIT_ENV,
    EXIT_BAD_INPUT,
    EXIT_CANCELED,
    EXIT_FAILED,
    EXIT_OK,
    TERMINATION_LOG_ENV,
    TERMINATION_LOG_PATH,
    TerminationMessage,
    storage_from_env,
)
from reelkube.engine.encoders import ENCODER_THREADS, threads_for_cpu_limit
from reelkube.errors import Canceled, ReelkubeError, SpecError
from reelkube.input_policy import InputPolicy
from reelkube.manifest import read_document
from reelkube.pipeline.cancel import stop_signals_cancel
from reelkube.pipeline.chunk_job import ChunkEnv, merge_progress_kind, run_chunk_role
from reelkube.pipeline.run import run_resource
from reelkube.pipeline.status_reporter import ProgressReporter, StatusWriter, in_cluster_writer

log = logging.getLogger(__name__)


def load_resource(path: Path) -> tuple[ResourceKind, Resource]:
    """Read the mounted resource JSON (or YAML) and validate it into its kind's model."""
    document = read_document(path)  # JSON is YAML: one reader for both
    try:
        kind = kind_named(str(document.get("kind")))
    except KeyError as exc:
        raise SpecError(str(exc.args[0])) from exc
    try:
        return kind, kind.parse(document)
    except ValidationError as exc:
        raise SpecError(f"invalid {kind.kind}: {exc}") from exc


def termination_message(error: ReelkubeError) -> str:
    """The JSON the operator reads back from the container's terminated state."""
    return TerminationMessage(reason=error.reason, message=error.message).encode()


def write_termination_message(error: ReelkubeError, path: Path | None = None) -> None:
    """Write :func:`termination_message` where the kubelet looks (skipped when it cannot)."""
    target = path or Path(os.environ.get(TERMINATION_LOG_ENV, TERMINATION_LOG_PATH))
    try:
        target.write_text(termination_message(error), encoding="utf-8")
    except OSError as exc:
        log.debug("no termination log at %s: %s", target, exc)


def exit_code_for(error: ReelkubeError) -> int:
    """The pod's exit code for a failure (see the module docstring)."""
    if isinstance(error, Canceled):
        return EXIT_CANCELED
    return EXIT_FAILED if error.retryable else EXIT_BAD_INPUT


def _cpu_limit(environ: Mapping[str, str]) -> int | None:
    """The container's CPU limit in millicores, as the operator passes it (downward API)."""
    try:
        return int(environ.get(CPU_LIMIT_ENV, ""))
    except ValueError:
        return None


def run_in_pod(
    path: Path,
    *,
    work_dir: Path,
    base_dir: Path | None = None,
    writer: StatusWriter | None = None,
    use_cluster: bool = True,
    min_interval: float = 1.0,
    policy: InputPolicy | None = None,
) -> int:
    """Run the resource in ``path`` into ``work_dir/out``, upload, report; the exit code.

    ``writer`` overrides where status patches go (by default the in-cluster writer, or the log
    outside a cluster). Inputs are fetched under ``policy``, by default the cluster's input
    policy as the operator passed it in the environment (:meth:`InputPolicy.from_env`).
    """
    try:
        kind, resource = load_resource(path)
    except ReelkubeError as exc:
        log.error("event=failed reason=%s message=%s", exc.reason, exc.message)
        write_termination_message(exc)
        return exit_code_for(exc)
    meta = resource.metadata
    label = f"{meta.namespace}/{meta.name}"
    if writer is None and use_cluster:
        writer = in_cluster_writer(kind, meta.namespace, meta.name)
    role = os.environ.get(CHUNK_ROLE_ENV, "").strip()
    threads = threads_for_cpu_limit(_cpu_limit(os.environ), os.cpu_count() or 1)
    log.info("event=encoder_threads threads=%s cores=%s", threads or "auto", os.cpu_count())
    # The merge pod's progress follows the windows' frames (see pipeline.chunk_job).
    adapter = merge_progress_kind(kind) if role == CHUNK_ROLE_MERGE else kind
    reporter = ProgressReporter(adapter, writer, label=label, min_interval=min_interval)
    out_dir = work_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    sized = ENCODER_THREADS.set(threads)
    try:
        with stop_signals_cancel():
            if role:
                # One window of a chunked render, or its merge (the operator's chunk/merge Jobs).
                run_chunk_role(
                    resource,
                    ChunkEnv.from_env(role, os.environ),
                    out_dir=out_dir,
                    base_dir=base_dir or work_dir,
                    progress=reporter,
                    status=reporter,
                    default_storage=storage_from_env(os.environ),
                    policy=policy or InputPolicy.from_env(os.environ),
                )
                return EXIT_OK
            run_resource(
                resource,
                out_dir=out_dir,
                base_dir=base_dir or work_dir,
                progress=reporter,
                status=reporter,
                default_storage=storage_from_env(os.environ),
                policy=policy or InputPolicy.from_env(os.environ),
            )
        return EXIT_OK
    except ReelkubeError as exc:
        return _fail(exc, reporter, label)
    except Exception as exc:  # noqa: BLE001 - anything else still gets a readable cause
        log.exception("event=crashed resource=%s", label)
        return _fail(ReelkubeError(f"{type(exc).__name__}: {exc}", reason="InternalError"), reporter, label)
    finally:
        ENCODER_THREADS.reset(sized)


def _fail(error: ReelkubeError, reporter: ProgressReporter, label: str) -> int:
    """Record the failure where the operator reads it, then flush the last progress (not after a
    stop: see below)."""
    log.error("event=failed resource=%s reason=%s message=%s", label, error.reason, error.message)
    write_termination_message(error)
    if isinstance(error, Canceled):
        # Stopped: the pod has only its grace period left, and the final flush retries for up
        # to a minute while the API server is away; past the grace the kubelet's SIGKILL makes
        # it exit 137, which fails the Job as out of memory. The last progress of a stopped
        # render tells nobody anything (the writer thread is a daemon: the exit ends it).
        return exit_code_for(error)
    try:
        reporter.close()
    except ReelkubeError as exc:
        log.warning("event=final_status_lost resource=%s error=%s", label, exc)
    return exit_code_for(error)
