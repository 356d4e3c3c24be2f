"""The registry and the shipped examples: every example expands and its assets exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api import OutputSpec, RenderJob
from reelkube.api.renderjob import TemplateName
from reelkube.errors import SpecError
from reelkube.templates import TEMPLATES, TemplateContext, expand_template, get_template
from support import yamls

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OWN_EXAMPLES = ["captioned-reel.yaml", "slideshow.yaml", "static-ad.yaml", "timeline.yaml"]


def test_registry_keys_are_template_names() -> None:
    assert {"captioned-reel", "slideshow", "static-ad"} <= set(TEMPLATES)
    assert set(TEMPLATES) <= {name.value for name in TemplateName}
    for name, template in TEMPLATES.items():
        assert template.name == name


def test_unknown_template_is_a_spec_error_listing_the_known_ones() -> None:
    with pytest.raises(SpecError, match="captioned-reel"):
        get_template("karaoke")


def test_missing_props_list_every_required_field() -> None:
    context = TemplateContext(output=OutputSpec(), workdir=Path("."))
    with pytest.raises(SpecError) as caught:
        expand_template("static-ad", None, context)
    assert "spec.props.headline:" in str(caught.value)
    assert "spec.props.productImage:" in str(caught.value)


def asset_paths(value: object) -> list[str]:
    """Every string under `value` that looks like a relative asset path."""
    if isinstance(value, dict):
        return [path for item in value.values() for path in asset_paths(item)]
    if isinstance(value, list):
        return [path for item in value for path in asset_paths(item)]
    return [value] if isinstance(value, str) and value.startswith("assets/") else []


@pytest.mark.parametrize("name", OWN_EXAMPLES)
def test_example_is_a_valid_render_job_with_small_existing_assets(name: str) -> None:
    raw = yamls.load((EXAMPLES / name).read_text())
    job = RenderJob.model_validate(raw)
    assert job.apiVersion == "reelkube.io/v1alpha1" and job.kind == "RenderJob"
    assert job.metadata.name.endswith("-example")
    paths = asset_paths(raw["spec"])
    assert paths, "every example renders from the sample assets"
    for path in paths:
        asset = EXAMPLES / path
        assert asset.is_file(), path
        assert asset.stat().st_size < 300 * 1024, path
    if job.spec.template is not None:
        context = TemplateContext(output=job.spec.output, workdir=Path("."))
        expansion = expand_template(job.spec.template, job.spec.props, context)
        assert expansion.timeline.tracks
