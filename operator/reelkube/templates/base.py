"""What a template is: a props model and a function from props to a timeline.

Templates are pure where they can be (captioned-reel, slideshow, static-ad). A template that
must make media first (narrated synthesizes speech) does it through the context's workdir and
reports the extra files it made as artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from reelkube.api.common import InputLimits
from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.progress import ProgressCallback, ignore_progress


@dataclass(frozen=True)
class TemplateContext:
    """What a template may know besides its props."""

    output: OutputSpec
    workdir: Path
    limits: InputLimits = field(default_factory=InputLimits)
    on_progress: ProgressCallback = ignore_progress


@dataclass
class Expansion:
    """A template's result: the timeline to render and any files made on the way."""

    timeline: Timeline
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Extra outputs by artifact name (voiceover, subtitles, timings)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Facts worth reporting (e.g. the slideshow's computed duration)."""


PropsT = TypeVar("PropsT", bound=BaseModel)


@dataclass(frozen=True)
class Template(Generic[PropsT]):
    """A named template: its props model and its expansion function."""

    name: str
    props_model: type[PropsT]
    expand: Callable[[PropsT, TemplateContext], Expansion]
