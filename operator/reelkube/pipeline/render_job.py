"""A RenderJob's part of the pipeline: expand its template (or take its timeline), render it
with the engine, and collect the template's extra files; and the exact ffmpeg run it would make
(``reelkube plan``). Above both the templates and the engine, so neither needs the other."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from reelkube.api.output import STILL_FORMATS
from reelkube.api.renderjob import RenderJob
from reelkube.engine.artifacts import LocalArtifact, describe_file
from reelkube.engine.encoders import EXTENSIONS
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.plan import RenderPlan, build_plan, thumbnail_path
from reelkube.engine.render import RenderResult, render_into, render_timeline, scratch_dir
from reelkube.errors import SpecError
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ignore_progress
from reelkube.templates import get_template
from reelkube.templates.base import Expansion, TemplateContext

VOICEOVER_ARTIFACT = "voiceover"
"""The artifact a narrating template makes first: the narration track, ready before the video
(the output ``reelkube.webhooks.milestones.VOICEOVER_OUTPUTS`` names for a RenderJob)."""

VoiceoverReady = Callable[[str, LocalArtifact], None]
"""Told the voice-over's artifact name and its file (already in the output directory) as soon as
the template has made it, before the video renders; what it raises stops the render."""


def render_job(
    job: RenderJob,
    out_dir: Path,
    *,
    base_dir: Path,
    on_progress: ProgressCallback = ignore_progress,
    policy: InputPolicy | None = None,
    on_voiceover: VoiceoverReady | None = None,
) -> RenderResult:
    """Render a RenderJob: expand its template (or take its timeline), render, and add the
    template's extra artifacts (voiceover, subtitles...) to the outputs. Every input the
    template or the timeline names is fetched under ``policy`` (default: the local one).
    A template's voice-over is put in ``out_dir`` and given to ``on_voiceover`` before the
    video renders (the pipeline uploads and reports it at once)."""
    spec = job.spec
    if spec.timeline is not None:
        name = "image" if spec.output.format in STILL_FORMATS else "video"
        return render_timeline(
            spec.timeline, spec.output, out_dir, base_dir=base_dir, limits=spec.inputLimits,
            on_progress=on_progress, name=name, storage=spec.storage, policy=policy,
        )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    with scratch_dir(out_dir) as workdir:
        expansion = expand_job(job, workdir, on_progress, base_dir=base_dir, policy=policy)
        kept: dict[str, LocalArtifact] = {}
        voiceover = expansion.artifacts.get(VOICEOVER_ARTIFACT)
        if voiceover is not None:
            kept[VOICEOVER_ARTIFACT] = _keep(voiceover, out_dir)
            if on_voiceover is not None:
                on_voiceover(VOICEOVER_ARTIFACT, kept[VOICEOVER_ARTIFACT])
        output = expansion.output or spec.output
        name = "image" if output.format in STILL_FORMATS else "video"
        result = render_into(expansion.timeline, output, out_dir, workdir, base_dir, spec.inputLimits,
                         on_progress, name, spec.storage, policy)  # fmt: skip
        for artifact, path in expansion.artifacts.items():
            result.outputs[artifact] = kept.get(artifact) or _keep(path, out_dir)
    result.info.update(expansion.info)
    return result


def _keep(path: Path, out_dir: Path) -> LocalArtifact:
    """A template's file copied into ``out_dir`` and described: template media (e.g. narration)
    lives in the workdir, which goes when the render is done."""
    kept = out_dir / path.name
    if path.resolve() != kept.resolve():
        shutil.copy2(path, kept)
    return describe_file(kept)


def expand_job(
    job: RenderJob,
    workdir: Path,
    on_progress: ProgressCallback = ignore_progress,
    *,
    base_dir: Path | None = None,
    policy: InputPolicy | None = None,
) -> Expansion:
    """The job's timeline: its template expanded (props validated, SpecError naming fields), or
    its own timeline."""
    spec = job.spec
    if spec.timeline is not None:
        return Expansion(timeline=spec.timeline)
    if spec.template is None:
        raise SpecError("spec: give exactly one of template or timeline")
    template = get_template(spec.template.value)
    props = template.parse_props(spec.props)
    context = TemplateContext(
        output=spec.output,
        workdir=workdir,
        limits=spec.inputLimits,
        on_progress=on_progress,
        base_dir=base_dir,
        storage=spec.storage,
        policy=policy or InputPolicy.local(),
    )
    return template.expand(props, context)


def plan_job(
    job: RenderJob, out_dir: Path, workdir: Path, *, base_dir: Path, policy: InputPolicy | None = None
) -> RenderPlan:
    """The exact ffmpeg run `render_job` would make (inputs fetched into `workdir` under
    ``policy`` to be probed, the graph's text files written there too)."""
    expansion = expand_job(job, workdir, base_dir=base_dir, policy=policy)
    output = expansion.output or job.spec.output
    name = "image" if output.format in STILL_FORMATS else "video"
    inputs = fetch_inputs(
        expansion.timeline,
        workdir,
        job.spec.inputLimits,
        base_dir=base_dir,
        storage=job.spec.storage,
        policy=policy,
    )
    target = out_dir / f"{name}.{EXTENSIONS[output.format]}"
    plan = build_plan(
        expansion.timeline,
        output,
        inputs,
        workdir=workdir,
        output_path=target,
        thumbnail=thumbnail_path(output, workdir),
    )
    plan.write_files()
    return plan
