"""The one pipeline that runs a RenderJob or a TTSJob, in its pod or on the command line.

Steps: expand the template (or take the timeline), fetch the inputs, plan, execute (ffmpeg, or
Piper for a TTSJob), upload the outputs when storage is named, and report. A narrated
RenderJob's voice-over is uploaded and reported as soon as the template has made it, before the
video renders (the ``voiceover_uploaded`` webhook goes out while the video is still rendering);
the other outputs at the end. The caller loads the resource (the pod from its mounted JSON, the
command line from a manifest with field-path errors) and passes in where progress goes and where
the status is written:

- the pod (:mod:`reelkube.pipeline.pod`) passes a
  :class:`~reelkube.pipeline.status_reporter.ProgressReporter` as both, which patches the
  resource's status;
- ``reelkube render`` / ``reelkube tts`` pass a terminal progress display and no status.

Failures are raised as :class:`~reelkube.errors.ReelkubeError`; turning them into exit codes,
a termination message or an error line is the caller's part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reelkube.api.kinds import Resource
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import OutputArtifact, Step
from reelkube.input_policy import InputPolicy
from reelkube.pipeline.outputs import local_outputs, output_artifacts, upload_outputs
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress

if TYPE_CHECKING:  # the engine and Piper load only when a resource of their kind runs
    from reelkube.api.common import StorageSpec
    from reelkube.engine.artifacts import LocalArtifact
    from reelkube.engine.render import RenderResult
    from reelkube.speech.tts import TTSResult

log = logging.getLogger(__name__)


class StatusReport(Protocol):
    """Where the run's state goes besides progress: the encoder, the outputs, the end."""

    def update(self, **fields: Any) -> None:
        """Queue status fields (``encoder``, ...)."""

    def publish(self, **fields: Any) -> bool:
        """Write status fields now (an output ready before the end); False when the write failed
        and the fields wait for the next one."""

    def close(self, *, final: dict[str, Any] | None = None) -> None:
        """Write everything pending plus ``final``; raises ReelkubeError when it cannot."""


@dataclass
class RunOutcome:
    """What a run produced."""

    result: RenderResult | TTSResult
    """The engine's (or the narrator's) own account: local files, frames, timings..."""
    outputs: dict[str, OutputArtifact]
    """As ``status.outputs``: the uploaded objects when storage was named, else the local files."""
    uploaded: bool
    """Whether :attr:`outputs` are uploaded objects."""


OutputReady = Callable[[str, OutputArtifact], None]
"""Told each output reported before the end of a run (a narrated render's voice-over), with its
status entry: the uploaded object, or the local file when no storage is named."""


def run_resource(
    resource: Resource,
    *,
    out_dir: Path,
    base_dir: Path,
    progress: ProgressCallback = ignore_progress,
    status: StatusReport | None = None,
    default_storage: StorageSpec | None = None,
    uid_fallback: str = "",
    policy: InputPolicy | None = None,
    on_output: OutputReady | None = None,
) -> RunOutcome:
    """Render (or narrate) ``resource`` into ``out_dir``, upload, report; raises ReelkubeError.

    ``base_dir``: where relative local inputs are found. ``default_storage``: where outputs go
    when the spec names no storage (the operator's bucket, in a pod). ``uid_fallback``: the uid
    in the upload keys of a resource that has none (a manifest that never met an API server).
    ``policy``: what inputs may be fetched (the pod passes the cluster's; default: the local one).
    When ``status`` is given it gets the encoder and, on success, the final state (outputs,
    ``done``) with which it is closed. On failure it is left open: the caller records the
    failure first (a pod's termination message must not wait behind status writes to a busy
    API server), then closes it. A voice-over made before the video is uploaded (or, without
    storage, left in ``out_dir``) and written into the status's outputs at once, and told to
    ``on_output``; a failed upload fails the run with the storage's cause, as at the end.
    """
    meta = resource.metadata
    label = f"{meta.namespace}/{meta.name}"
    log.info("event=start resource=%s kind=%s", label, resource.kind)
    storage = resource.spec.storage or default_storage
    early: dict[str, OutputArtifact] = {}

    def voiceover_ready(name: str, artifact: LocalArtifact) -> None:
        if storage is None:
            listed = local_outputs({name: artifact})
        else:
            listed = _upload({name: artifact}, storage, resource, uid_fallback, None)
        early.update(listed)
        if status is not None:
            status.publish(outputs=_status_outputs(early))
        log.info("event=voiceover_ready resource=%s uri=%s", label, listed[name].uri)
        if on_output is not None:
            on_output(name, listed[name])

    result = _execute(resource, out_dir, base_dir, progress, policy or InputPolicy.local(), voiceover_ready)
    encoder = getattr(result, "encoder", None)
    if encoder and status is not None:
        status.update(encoder=str(encoder))
    files = output_artifacts(result)
    rest = {name: artifact for name, artifact in files.items() if name not in early}
    if storage is None:
        done = local_outputs(rest)
    else:
        done = _upload(rest, storage, resource, uid_fallback, progress)
    outputs = {name: early[name] if name in early else done[name] for name in files}
    if status is not None:
        status.close(
            final={
                "step": Step.DONE.value,
                "progress": 100,
                "etaSeconds": 0,
                "outputs": _status_outputs(outputs),
            }
        )
    log.info("event=succeeded resource=%s outputs=%s", label, ",".join(outputs))
    return RunOutcome(result=result, outputs=outputs, uploaded=storage is not None)


def _status_outputs(outputs: dict[str, OutputArtifact]) -> dict[str, Any]:
    """``status.outputs`` as JSON."""
    return {k: v.model_dump(mode="json", exclude_none=True) for k, v in outputs.items()}


def _execute(
    resource: Resource,
    out_dir: Path,
    base_dir: Path,
    progress: ProgressCallback,
    policy: InputPolicy,
    on_voiceover: Callable[[str, LocalArtifact], None],
) -> Any:
    """Expand, fetch, plan and render a RenderJob (its voice-over to ``on_voiceover`` as soon
    as it is made); narrate a TTSJob, whose audio is its one output."""
    if isinstance(resource, RenderJob):
        from reelkube.engine.probe import list_demuxers_early

        list_demuxers_early()  # while the template expands (a no-op when already listed)
        from reelkube.pipeline.render_job import render_job

        return render_job(
            resource,
            out_dir,
            base_dir=base_dir,
            on_progress=progress,
            policy=policy,
            on_voiceover=on_voiceover,
        )
    from reelkube.speech.tts import run_tts_job

    return run_tts_job(resource, out_dir, base_dir=base_dir, on_progress=progress, policy=policy)


def _upload(
    files: dict[str, LocalArtifact],
    storage: StorageSpec,
    resource: Resource,
    uid_fallback: str,
    progress: ProgressCallback | None,
) -> dict[str, OutputArtifact]:
    """Upload ``files``, telling ``progress`` the upload step. With None (the voice-over, uploaded
    while the work goes on) nothing is told: the step would jump the overall percent to the
    upload's share before the video has rendered."""
    on_fraction = None
    if progress is not None:
        report = progress
        report(ProgressEvent(step=Step.UPLOADING, percent=0.0))

        def on_fraction(fraction: float) -> None:
            report(ProgressEvent(step=Step.UPLOADING, percent=100 * fraction))

    return upload_outputs(
        files,
        storage=storage,
        namespace=resource.metadata.namespace,
        name=resource.metadata.name,
        uid=resource.metadata.uid or uid_fallback,
        on_fraction=on_fraction,
    )
