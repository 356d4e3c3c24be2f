"""Built-in templates: functions from props to a timeline, looked up by `spec.template`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelkube.errors import SpecError
from reelkube.templates.base import Expansion, Template, TemplateContext
from reelkube.templates.captioned_reel import CAPTIONED_REEL
from reelkube.templates.comparison import COMPARISON
from reelkube.templates.explainer import EXPLAINER
from reelkube.templates.listicle import LISTICLE
from reelkube.templates.narrated import NARRATED
from reelkube.templates.sentences import SENTENCES
from reelkube.templates.shorts import SHORTS
from reelkube.templates.slideshow import SLIDESHOW
from reelkube.templates.static_ad import STATIC_AD

TEMPLATES: dict[str, Template[Any]] = {
    CAPTIONED_REEL.name: CAPTIONED_REEL,
    COMPARISON.name: COMPARISON,
    EXPLAINER.name: EXPLAINER,
    LISTICLE.name: LISTICLE,
    NARRATED.name: NARRATED,
    SENTENCES.name: SENTENCES,
    SHORTS.name: SHORTS,
    SLIDESHOW.name: SLIDESHOW,
    STATIC_AD.name: STATIC_AD,
}


def get_template(name: str) -> Template[Any]:
    """The template called `name`, or a SpecError listing the known ones."""
    try:
        return TEMPLATES[str(name)]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise SpecError(f"unknown template {name!r} (known: {known})") from None


def expand_template(name: str, props: Mapping[str, Any] | None, context: TemplateContext) -> Expansion:
    """Validate `props` against the template's model and expand them into a timeline.

    Raises SpecError (with field paths such as ``spec.props.images[0]``) for bad props.
    """
    template = get_template(name)
    return template.expand(template.parse_props(props), context)


__all__ = ["TEMPLATES", "Expansion", "Template", "TemplateContext", "expand_template", "get_template"]
