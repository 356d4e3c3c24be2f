"""What a template is: a props model and a function from props to a timeline.

Templates are pure where they can be (captioned-reel, slideshow, static-ad). A template that
must make media first (narrated synthesizes speech) does it through the context's workdir and
reports the extra files it made as artifacts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.errors import SpecError
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ignore_progress


@dataclass(frozen=True)
class TemplateContext:
    """What a template may know besides its props."""

    output: OutputSpec
    workdir: Path
    limits: InputLimits = field(default_factory=InputLimits)
    on_progress: ProgressCallback = ignore_progress
    base_dir: Path | None = None
    """Where relative paths in the props point (the manifest's directory); None: the cwd."""
    storage: StorageSpec | None = None
    """The job's storage, for `s3://` inputs; None means the default S3 setup."""
    policy: InputPolicy = field(default_factory=InputPolicy.local)
    """What the template may fetch or read itself (a voiceover, a voice model): in a pod the
    cluster's input policy; the timeline's inputs are fetched under the same one."""


@dataclass
class Expansion:
    """A template's result: the timeline to render and any files made on the way."""

    timeline: Timeline
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Extra outputs by artifact name (voiceover, subtitles, timings)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Facts worth reporting (e.g. the slideshow's computed duration)."""
    output: OutputSpec | None = None
    """The output to render instead of the manifest's, when the template settles it (static-ad
    turns the default mp4 into a png). Empty: render with the manifest's output."""


PropsT = TypeVar("PropsT", bound=BaseModel)


def format_validation_error(error: ValidationError, prefix: str) -> str:
    """One line per problem, each with its field path, e.g. ``props.images[0]: Field required``."""
    lines = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{path}: {problem['msg']}")
    return "; ".join(lines)


@dataclass(frozen=True)
class Template(Generic[PropsT]):
    """A named template: its props model and its expansion function."""

    name: str
    props_model: type[PropsT]
    expand: Callable[[PropsT, TemplateContext], Expansion]

    def parse_props(self, raw: Mapping[str, Any] | None) -> PropsT:
        """Validate raw props (from the manifest); a SpecError names every bad field's path."""
        try:
            return self.props_model.model_validate(dict(raw or {}))
        except ValidationError as error:
            message = format_validation_error(error, "spec.props")
            raise SpecError(f"template {self.name}: {message}") from None


@dataclass(frozen=True)
class Canvas:
    """The frame a template lays out on: its defaults, overridden by the manifest's output."""

    width: int
    height: int
    fps: float

    @classmethod
    def for_output(cls, output: OutputSpec, width: int, height: int, fps: float) -> Canvas:
        """The template's default size and rate, with `output.width/height/fps` taking precedence."""
        return cls(
            width=output.width or width,
            height=output.height or height,
            fps=output.fps or fps,
        )

    @property
    def short_side(self) -> int:
        """The smaller dimension: text sizes follow it so they suit portrait and landscape alike."""
        return min(self.width, self.height)

    def scaled(self, fraction: float) -> int:
        """`fraction` of the short side, in whole pixels (at least 1)."""
        return max(1, round(self.short_side * fraction))
