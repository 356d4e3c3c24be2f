"""RenderJob: a video (or still) from a template with props, or from a full timeline."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from reelkube.api.common import API_VERSION, ApiModel, JobSettings, cel, spec_rules
from reelkube.api.output import STILL_FORMATS, OutputSpec, known_length, output_length_error
from reelkube.api.status import ResourceStatus
from reelkube.api.timeline import Timeline


class TemplateName(StrEnum):
    CAPTIONED_REEL = "captioned-reel"
    SLIDESHOW = "slideshow"
    STATIC_AD = "static-ad"
    NARRATED = "narrated"
    EXPLAINER = "explainer"
    SHORTS = "shorts"
    LISTICLE = "listicle"
    SENTENCES = "sentences"
    COMPARISON = "comparison"


NARRATING_TEMPLATES = ("narrated", "explainer", "listicle", "comparison", "shorts")
"""Templates that synthesize speech while they expand."""


class RenderJobSpec(JobSettings):
    """What to render and where the result goes."""

    model_config = JobSettings.model_config | {
        "json_schema_extra": spec_rules(
            cel("has(self.template) != has(self.timeline)", "give exactly one of template or timeline"),
            cel("!has(self.props) || has(self.template)", "props need a template"),
            # Every chunk pod expands the template; speech synthesis differs from run to run, so
            # pods narrating on their own would disagree on the timeline they split.
            cel(
                f"!has(self.template) || !(self.template in {list(NARRATING_TEMPLATES)!r})"
                " || !has(self.output) || !has(self.output.chunks)"
                " || type(self.output.chunks) == string || self.output.chunks == 1",
                "output.chunks: the narrated and scene-based templates synthesize their narration, which"
                " differs from one run to the next, so they render in one pod: leave chunks out or use auto",
            ),
            verb="re-render",
        )
    }

    template: TemplateName | None = None
    """Built-in template: captioned-reel, slideshow, static-ad, narrated, or a scene-based one
    (explainer, shorts, listicle, comparison, sentences: these also write storyboard.json and
    storyboard.png)."""
    props: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )
    """The template's properties (see the template's documentation)."""
    timeline: Timeline | None = None
    """A full timeline, instead of a template."""
    output: OutputSpec = Field(default_factory=OutputSpec)
    """The output file's format, codec, size, rate and quality."""

    @model_validator(mode="after")
    def _output_within_caps(self) -> RenderJobSpec:
        """A timeline whose length the spec fixes is refused here when it is over the output
        caps; templates and media-length clips are checked when the render is planned."""
        if self.timeline is not None and self.output.format not in STILL_FORMATS:
            seconds = known_length(self.timeline)
            fps = self.output.fps or self.timeline.fps
            if message := output_length_error(seconds, round(seconds * fps), self.output):
                raise ValueError(message)
        return self


class ObjectMeta(ApiModel):
    """The subset of Kubernetes object metadata the engine reads."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    name: str = "render"
    namespace: str = "default"
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class RenderJob(ApiModel):
    """A video render, reconciled into a Kubernetes Job."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    apiVersion: str = API_VERSION
    kind: str = "RenderJob"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RenderJobSpec
    status: ResourceStatus | None = None
