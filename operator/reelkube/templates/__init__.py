"""Built-in templates: functions from props to a timeline, looked up by `spec.template`."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from reelkube.errors import SpecError
from reelkube.templates.base import Expansion, Template, TemplateContext

# name -> (module, attribute). A template's module is imported the first time it is looked up:
# the scene-based formats pull in the scene layer, speech and stock providers, which a captioned
# reel rendered from the command line should not wait for.
_LOCATIONS: dict[str, tuple[str, str]] = {
    "captioned-reel": ("reelkube.templates.captioned_reel", "CAPTIONED_REEL"),
    "comparison": ("reelkube.templates.comparison", "COMPARISON"),
    "explainer": ("reelkube.templates.explainer", "EXPLAINER"),
    "listicle": ("reelkube.templates.listicle", "LISTICLE"),
    "narrated": ("reelkube.templates.narrated", "NARRATED"),
    "sentences": ("reelkube.templates.sentences", "SENTENCES"),
    "shorts": ("reelkube.templates.shorts", "SHORTS"),
    "slideshow": ("reelkube.templates.slideshow", "SLIDESHOW"),
    "static-ad": ("reelkube.templates.static_ad", "STATIC_AD"),
}


class TemplateRegistry(Mapping[str, "Template[Any]"]):
    """The built-in templates by name, each imported when first looked up."""

    def __getitem__(self, name: str) -> Template[Any]:
        module, attribute = _LOCATIONS[name]
        template: Template[Any] = getattr(importlib.import_module(module), attribute)
        return template

    def __iter__(self) -> Iterator[str]:
        return iter(_LOCATIONS)

    def __len__(self) -> int:
        return len(_LOCATIONS)


TEMPLATES = TemplateRegistry()


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


__all__ = [
    "TEMPLATES",
    "Expansion",
    "Template",
    "TemplateContext",
    "TemplateRegistry",
    "expand_template",
    "get_template",
]
