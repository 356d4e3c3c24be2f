"""Building small timelines and plans for the engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelkube.api.common import InputLimits
from reelkube.api.output import OutputSpec
from reelkube.api.timeline import Timeline
from reelkube.engine.inputs import fetch_inputs
from reelkube.engine.plan import RenderPlan, build_plan

from .conftest import FPS, HEIGHT, WIDTH


def timeline(*tracks: list[dict[str, Any]], **fields: Any) -> Timeline:
    """A 160x284 30 fps timeline from lists of clip dicts (one list per track)."""
    data = {"width": WIDTH, "height": HEIGHT, "fps": FPS, **fields, "tracks": [{"clips": c} for c in tracks]}
    return Timeline.model_validate(data)


def plan_for(
    tl: Timeline, media_root: Path, workdir: Path, output: dict[str, Any] | None = None, name: str = "out.mp4"
) -> RenderPlan:
    """Fetch (probe) the timeline's inputs from `media_root` and plan it."""
    inputs = fetch_inputs(tl, workdir, InputLimits(), base_dir=media_root)
    spec = OutputSpec.model_validate(output or {})
    return build_plan(tl, spec, inputs, workdir=workdir, output_path=workdir / name)
