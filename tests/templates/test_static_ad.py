"""static-ad: a one-frame layout on the brand colour, rendered as png (or jpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.output import Format, OutputSpec
from reelkube.api.timeline import Fit, ImageClip, Position, TextClip
from reelkube.errors import SpecError
from reelkube.templates import Expansion, TemplateContext, expand_template
from reelkube.templates.static_ad import estimated_lines, is_light

PROPS = {
    "headline": "Glow all day",
    "subheadline": "Now 20% off",
    "productImage": "product.png",
    "brandColor": "#1F4FD1",
    "cta": "Shop now",
}


def expand(props: dict, output: OutputSpec | None = None) -> Expansion:
    context = TemplateContext(output=output or OutputSpec(), workdir=Path("/nonexistent"))
    return expand_template("static-ad", props, context)


def layers(expansion: Expansion) -> dict:
    return {track.name: track.clips[0] for track in expansion.timeline.tracks}


def test_one_square_frame_on_the_brand_colour() -> None:
    expansion = expand(PROPS)
    timeline = expansion.timeline
    assert (timeline.width, timeline.height) == (1080, 1080)
    assert timeline.duration is not None
    assert timeline.duration * timeline.fps == pytest.approx(1)  # exactly one frame
    assert timeline.background == "#1f4fd1"
    assert [track.name for track in timeline.tracks] == ["product", "headline", "subheadline", "cta"]


def test_product_is_contained_in_a_box_in_the_upper_half() -> None:
    expansion = expand(PROPS)
    product = layers(expansion)["product"]
    assert isinstance(product, ImageClip) and product.src == "product.png"
    assert product.fit is Fit.CONTAIN
    box = product.box
    assert box is not None and box.width and box.height
    assert box.left >= 0 and box.left + box.width <= 1080
    assert box.top >= 0 and box.top + box.height <= 1080 * 0.6
    assert box.left + box.width / 2 == pytest.approx(540, abs=1)  # centred


def test_text_stacks_below_the_product_and_the_button_sits_at_the_bottom() -> None:
    parts = layers(expand(PROPS))
    box = parts["product"].box
    headline, subheadline, cta = parts["headline"], parts["subheadline"], parts["cta"]
    assert all(isinstance(clip, TextClip) for clip in (headline, subheadline, cta))
    assert headline.position is Position.TOP and headline.margin == 0
    assert headline.offsetY > box.top + box.height
    assert subheadline.offsetY >= headline.offsetY + headline.fontSize
    assert headline.bold and headline.fontSize > subheadline.fontSize
    assert headline.color == subheadline.color == "#ffffff"  # on a dark brand colour
    assert cta.position is Position.BOTTOM and cta.background and cta.backgroundOpacity == 1
    assert cta.color == "#1F4FD1"


def test_light_brand_colour_gets_dark_text() -> None:
    parts = layers(expand({**PROPS, "brandColor": "#ffe066"}))
    assert parts["headline"].color == "#111111"
    assert is_light("#ffffff") and not is_light("#000000") and not is_light("#1f4fd1")


def test_optional_lines_are_left_out() -> None:
    expansion = expand({"headline": "Hi", "productImage": "p.png"})
    assert [track.name for track in expansion.timeline.tracks] == ["product", "headline"]


def test_size_prop_and_output_override() -> None:
    wide = expand({**PROPS, "size": {"width": 1200, "height": 628}}).timeline
    assert (wide.width, wide.height) == (1200, 628)
    overridden = expand({**PROPS, "size": {"width": 1200, "height": 628}}, OutputSpec(width=300, height=250))
    assert (overridden.timeline.width, overridden.timeline.height) == (300, 250)


@pytest.mark.parametrize(
    ("requested", "rendered"),
    [(None, Format.PNG), (Format.PNG, Format.PNG), (Format.JPEG, Format.JPEG), (Format.MP4, Format.PNG)],
)
def test_output_is_a_png_unless_jpeg_is_asked_for(requested: Format | None, rendered: Format) -> None:
    output = OutputSpec() if requested is None else OutputSpec(format=requested)
    expansion = expand(PROPS, output.model_copy(update={"crf": 18}))
    assert expansion.output is not None
    assert expansion.output.format is rendered
    assert expansion.output.crf == 18  # the rest of the manifest's output is kept
    assert expansion.info["format"] == rendered.value


def test_estimated_lines_grow_with_text_length() -> None:
    assert estimated_lines("Short", 80, 900) == 1
    assert estimated_lines("A much longer headline that cannot fit on one line", 80, 900) >= 2
    assert estimated_lines("one\ntwo", 80, 900) == 2


@pytest.mark.parametrize(
    ("props", "path"),
    [
        ({**PROPS, "brandColor": "blue"}, "spec.props.brandColor:"),
        ({**PROPS, "size": {"width": 0}}, "spec.props.size.width:"),
        ({**PROPS, "size": {"width": 100, "depth": 3}}, "spec.props.size.depth:"),
        ({"productImage": "p.png"}, "spec.props.headline:"),
        ({**PROPS, "cta": ""}, "spec.props.cta:"),
    ],
)
def test_invalid_props_name_the_field(props: dict, path: str) -> None:
    with pytest.raises(SpecError) as caught:
        expand(props)
    assert path in str(caught.value)
