"""Run one resource inside its pod: load, render (or narrate), upload, report.

Exit codes: 0 done; 1 failed, worth a retry (ffmpeg, storage, timeouts); 2 failed in a way a
retry cannot fix (bad spec, input missing, too large or unreadable: the Job's
podFailurePolicy then fails at once); 143 canceled by SIGTERM. On failure the cause is written
as JSON ``{"reason", "message"}`` to the termination log, where the operator reads it.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from reelkube.api.kinds import Resource, ResourceKind, kind_named
from reelkube.api.pod_contract import (
    EXIT_BAD_INPUT,
    EXIT_CANCELED,
    EXIT_FAILED,
    EXIT_OK,
    TERMINATION_LOG_ENV,
    TERMINATION_LOG_PATH,
    TerminationMessage,
    storage_from_env,
)
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import Step
from reelkube.errors import (
    Canceled,
    InputNotFound,
    InputTooLarge,
    InputUnreadable,
    ReelkubeError,
    SpecError,
    UnsupportedCodec,
)
from reelkube.manifest import read_document
from reelkube.progress import ProgressEvent
from reelkube.runner.outputs import local_outputs, output_artifacts, upload_outputs
from reelkube.runner.progress import ProgressReporter, StatusWriter, in_cluster_writer

log = logging.getLogger(__name__)

NOT_RETRYABLE = (SpecError, InputNotFound, InputTooLarge, InputUnreadable, UnsupportedCodec)


def load_resource(path: Path) -> tuple[ResourceKind, Resource]:
    """Read the mounted resource JSON (or YAML) and validate it into its kind's model."""
    document = read_document(path)  # JSON is YAML: one reader for both
    try:
        adapter = kind_named(str(document.get("kind")))
    except KeyError as exc:
        raise SpecError(str(exc.args[0])) from exc
    try:
        return adapter, adapter.parse(document)
    except ValidationError as exc:
        raise SpecError(f"invalid {adapter.kind}: {exc}") from exc


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
    if isinstance(error, Canceled):
        return EXIT_CANCELED
    return EXIT_BAD_INPUT if isinstance(error, NOT_RETRYABLE) else EXIT_FAILED


@contextmanager
def sigterm_cancels() -> Iterator[None]:
    """Turn SIGTERM (resource deleted, deadline reached, node drained) into Canceled.

    The runner is PID 1 in its container, where an unhandled SIGTERM is ignored; raising here
    unwinds the engine, whose cleanup stops ffmpeg and removes partial files.
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one cancellation is enough
        raise Canceled(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _execute(
    adapter: ResourceKind, resource: Resource, out_dir: Path, base_dir: Path, reporter: ProgressReporter
) -> Any:
    if isinstance(resource, RenderJob):
        from reelkube.jobs import render_job

        return render_job(resource, out_dir, base_dir=base_dir, on_progress=reporter)
    from reelkube.speech.tts import run_tts_job

    return run_tts_job(resource, out_dir, base_dir=base_dir, on_progress=reporter)


def run_resource(
    path: Path,
    *,
    work_dir: Path,
    base_dir: Path | None = None,
    writer: StatusWriter | None = None,
    use_cluster: bool = True,
    min_interval: float = 1.0,
) -> int:
    """Render the resource in ``path`` into ``work_dir/out``, upload, report; the exit code.

    ``writer`` overrides where status patches go (by default the in-cluster writer, or the log
    outside a cluster).
    """
    try:
        adapter, resource = load_resource(path)
    except ReelkubeError as exc:
        log.error("event=failed reason=%s message=%s", exc.reason, exc.message)
        write_termination_message(exc)
        return exit_code_for(exc)
    meta = resource.metadata
    label = f"{meta.namespace}/{meta.name}"
    if writer is None and use_cluster:
        writer = in_cluster_writer(adapter, meta.namespace, meta.name)
    reporter = ProgressReporter(adapter, writer, label=label, min_interval=min_interval)
    out_dir = work_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with sigterm_cancels():
            log.info("event=start resource=%s kind=%s", label, adapter.kind)
            result = _execute(adapter, resource, out_dir, base_dir or work_dir, reporter)
            encoder = getattr(result, "encoder", None)
            if encoder:
                reporter.update(encoder=str(encoder))
            files = output_artifacts(result)
            storage = resource.spec.storage or storage_from_env(os.environ)
            if storage is None:
                outputs = local_outputs(files)
            else:
                reporter(ProgressEvent(step=Step.UPLOADING, percent=0.0))
                outputs = upload_outputs(
                    files,
                    storage=storage,
                    namespace=meta.namespace,
                    name=meta.name,
                    uid=meta.uid or "",
                    on_fraction=lambda f: reporter(ProgressEvent(step=Step.UPLOADING, percent=100 * f)),
                )
            reporter.close(
                final={
                    "step": Step.DONE.value,
                    "progress": 100,
                    "etaSeconds": 0,
                    "outputs": {k: v.model_dump(mode="json", exclude_none=True) for k, v in outputs.items()},
                }
            )
        log.info("event=succeeded resource=%s outputs=%s", label, ",".join(outputs))
        return EXIT_OK
    except ReelkubeError as exc:
        return _fail(exc, reporter, label)
    except Exception as exc:  # noqa: BLE001 - anything else still gets a readable cause
        log.exception("event=crashed resource=%s", label)
        return _fail(ReelkubeError(f"{type(exc).__name__}: {exc}", reason="InternalError"), reporter, label)


def _fail(error: ReelkubeError, reporter: ProgressReporter, label: str) -> int:
    log.error("event=failed resource=%s reason=%s message=%s", label, error.reason, error.message)
    write_termination_message(error)
    try:
        reporter.close()
    except ReelkubeError as exc:
        log.warning("event=final_status_lost resource=%s error=%s", label, exc)
    return exit_code_for(error)
