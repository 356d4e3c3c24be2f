"""The job-level API: fetch inputs, plan, run ffmpeg, describe the results.

`render_timeline` renders one timeline into a directory; `render_job` does the same for a
RenderJob, expanding its template first. The command line and the in-pod runner call these.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.api.output import STILL_FORMATS, Format, OutputSpec
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import OutputArtifact
from reelkube.api.timeline import Timeline
from reelkube.engine.encoders import CONTENT_TYPES, EXTENSIONS
from reelkube.engine.execute import run_ffmpeg
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.plan import RenderPlan, build_plan
from reelkube.engine.probe import probe_media
from reelkube.errors import InputUnreadable, SpecError
from reelkube.progress import ProgressCallback, ignore_progress

if TYPE_CHECKING:
    from reelkube.templates.base import Expansion

log = logging.getLogger(__name__)

KEEP_WORKDIR_ENV = "REELKUBE_KEEP_WORKDIR"
# Types Python's mimetypes gets wrong or lacks (it calls .ass "audio/aac").
CONTENT_TYPES_BY_SUFFIX = {
    ".ass": "text/x-ssa", ".ssa": "text/x-ssa", ".srt": "application/x-subrip", ".vtt": "text/vtt",
    ".json": "application/json", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
}  # fmt: skip


@dataclass(frozen=True)
class LocalArtifact:
    """One file written by a render, with what a status needs to describe it."""

    path: Path
    content_type: str
    size: int
    sha256: str
    duration: float | None = None
    width: int | None = None
    height: int | None = None

    def to_status(self) -> OutputArtifact:
        """The status form, with the local path as its URI."""
        return OutputArtifact(
            uri=str(self.path), size=self.size, sha256=self.sha256, contentType=self.content_type,
            duration=self.duration, width=self.width, height=self.height,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description (`--json` output); media facts only where known."""
        facts = {"duration": self.duration, "width": self.width, "height": self.height}
        return {
            "path": str(self.path), "contentType": self.content_type,
            "size": self.size, "sha256": self.sha256,
            **{key: value for key, value in facts.items() if value is not None},
        }  # fmt: skip


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
) -> RenderResult:
    """Render `timeline` into `out_dir/<name>.<ext>` (plus `thumbnail.jpg` for videos when
    `output.thumbnail`). Local inputs are relative to `base_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with _workdir(out_dir) as workdir:
        return _render(timeline, output, out_dir, workdir, base_dir, limits or InputLimits(), on_progress,
                       name, storage)  # fmt: skip


def _render(
    timeline: Timeline,
    output: OutputSpec,
    out_dir: Path,
    workdir: Path,
    base_dir: Path,
    limits: InputLimits,
    on_progress: ProgressCallback,
    name: str,
    storage: StorageSpec | None,
) -> RenderResult:
    started = time.monotonic()
    inputs = fetch_inputs(
        timeline, workdir, limits, base_dir=base_dir, storage=storage, on_progress=on_progress
    )
    target = out_dir / f"{name}.{EXTENSIONS[output.format]}"
    plan = build_plan(timeline, output, inputs, workdir=workdir, output_path=target)
    run_ffmpeg(plan, on_progress)
    outputs = {name: describe_file(target, CONTENT_TYPES[output.format])}
    if output.thumbnail and output.format in (Format.MP4, Format.WEBM):
        thumb = make_thumbnail(target, out_dir / "thumbnail.jpg", plan.duration)
        if thumb is not None:
            outputs["thumbnail"] = thumb
    return RenderResult(
        outputs=outputs,
        frames=plan.total_frames,
        duration=plan.duration,
        encoder=plan.encoder,
        wall_seconds=time.monotonic() - started,
        command_line=plan.command_line(),
    )


def render_job(
    job: RenderJob,
    out_dir: Path,
    *,
    base_dir: Path,
    on_progress: ProgressCallback = ignore_progress,
) -> RenderResult:
    """Render a RenderJob: expand its template (or take its timeline), render, and add the
    template's extra artifacts (voiceover, subtitles...) to the outputs."""
    spec = job.spec
    if spec.timeline is not None:
        name = "image" if spec.output.format in STILL_FORMATS else "video"
        return render_timeline(
            spec.timeline, spec.output, out_dir, base_dir=base_dir, limits=spec.inputLimits,
            on_progress=on_progress, name=name, storage=spec.storage,
        )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    with _workdir(out_dir) as workdir:
        expansion = expand_job(job, workdir, on_progress, base_dir=base_dir)
        output = expansion.output or spec.output
        name = "image" if output.format in STILL_FORMATS else "video"
        result = _render(expansion.timeline, output, out_dir, workdir, base_dir, spec.inputLimits,
                         on_progress, name, spec.storage)  # fmt: skip
        # Template media (e.g. narration) lives in the workdir, which is about to go.
        for artifact, path in expansion.artifacts.items():
            kept = out_dir / path.name
            if path.resolve() != kept.resolve():
                shutil.copy2(path, kept)
            result.outputs[artifact] = describe_file(kept)
    result.info.update(expansion.info)
    return result


def expand_job(
    job: RenderJob,
    workdir: Path,
    on_progress: ProgressCallback = ignore_progress,
    *,
    base_dir: Path | None = None,
) -> Expansion:
    """The job's timeline: its template expanded (props validated, SpecError naming fields), or
    its own timeline."""
    from reelkube.templates.base import Expansion, TemplateContext

    spec = job.spec
    if spec.timeline is not None:
        return Expansion(timeline=spec.timeline)
    if spec.template is None:
        raise SpecError("spec: give exactly one of template or timeline")
    from reelkube.templates import get_template

    template = get_template(spec.template.value)
    props = template.parse_props(spec.props)
    context = TemplateContext(
        output=spec.output,
        workdir=workdir,
        limits=spec.inputLimits,
        on_progress=on_progress,
        base_dir=base_dir,
        storage=spec.storage,
    )
    return template.expand(props, context)


def plan_job(job: RenderJob, out_dir: Path, workdir: Path, *, base_dir: Path) -> RenderPlan:
    """The exact ffmpeg run `render_job` would make (inputs fetched into `workdir` to be probed,
    the graph's text files written there too)."""
    expansion = expand_job(job, workdir, base_dir=base_dir)
    output = expansion.output or job.spec.output
    name = "image" if output.format in STILL_FORMATS else "video"
    inputs = fetch_inputs(
        expansion.timeline, workdir, job.spec.inputLimits, base_dir=base_dir, storage=job.spec.storage
    )
    target = out_dir / f"{name}.{EXTENSIONS[output.format]}"
    plan = build_plan(expansion.timeline, output, inputs, workdir=workdir, output_path=target)
    plan.write_files()
    return plan


def describe_file(path: Path, content_type: str | None = None) -> LocalArtifact:
    """Size, SHA-256, MIME type and (for media) duration and frame size of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    ctype = (
        content_type
        or CONTENT_TYPES_BY_SUFFIX.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    duration = width = height = None
    if ctype.split("/")[0] in ("video", "audio", "image"):
        try:
            info = probe_media(path)
            duration, width, height = info.duration, info.width, info.height
        except InputUnreadable:
            log.warning("event=probe_failed path=%s", path)
    return LocalArtifact(path=path, content_type=ctype, size=path.stat().st_size, sha256=digest.hexdigest(),
                         duration=duration, width=width, height=height)  # fmt: skip


def make_thumbnail(video: Path, target: Path, duration: float) -> LocalArtifact | None:
    """A JPEG from about 10% into the video (at least 1 s, never past the end); None on failure."""
    at = min(max(1.0, duration * 0.1), max(0.0, duration - 0.1))
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
    return describe_file(target, "image/jpeg")


@contextmanager
def _workdir(out_dir: Path) -> Iterator[Path]:
    """A scratch directory inside `out_dir`, removed afterwards unless REELKUBE_KEEP_WORKDIR=1."""
    path = Path(tempfile.mkdtemp(prefix=".reelkube-work-", dir=out_dir))
    try:
        yield path
    finally:
        if os.environ.get(KEEP_WORKDIR_ENV) == "1":
            log.info("event=workdir_kept path=%s", path)
        else:
            shutil.rmtree(path, ignore_errors=True)
