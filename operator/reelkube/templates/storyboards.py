"""Scene-based templates' planners: props -> the storyboard alone, without the timeline.

`reelkube storyboard` looks a template up here to show its scene plan (storyboard.json and
storyboard.png) before anyone pays for the render. Every template listed here writes the same
two files as artifacts when it renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reelkube.errors import SpecError
from reelkube.scenes.planning import ScenePlan
from reelkube.templates.base import TemplateContext
from reelkube.templates.comparison import plan_comparison
from reelkube.templates.explainer import plan_explainer
from reelkube.templates.listicle import plan_listicle
from reelkube.templates.sentences import plan_sentences
from reelkube.templates.shorts import plan_shorts

StoryboardPlanner = Callable[..., ScenePlan]
"""`planner(props, context, *, estimate=False, render=False)`: the template's scene plan."""

STORYBOARD_PLANNERS: dict[str, StoryboardPlanner] = {
    "comparison": plan_comparison,
    "explainer": plan_explainer,
    "listicle": plan_listicle,
    "sentences": plan_sentences,
    "shorts": plan_shorts,
}


def plan_storyboard(name: str, props: Any, context: TemplateContext, *, estimate: bool = False) -> ScenePlan:
    """The scene plan of template `name` for validated `props`; SpecError for templates without scenes."""
    try:
        planner = STORYBOARD_PLANNERS[name]
    except KeyError:
        known = ", ".join(sorted(STORYBOARD_PLANNERS))
        raise SpecError(f"template {name!r} has no scenes to storyboard (scene-based: {known})") from None
    return planner(props, context, estimate=estimate, render=False)
