"""static-ad: one still image (PNG, or JPEG when the manifest asks) for display advertising.

Layout, top to bottom: the product image contained in a box over the upper half, the headline,
the subheadline, and an optional call-to-action button at the bottom; all on the brand colour.
"""

from __future__ import annotations

import math

from pydantic import Field

from reelkube.api.common import ApiModel
from reelkube.api.output import STILL_FORMATS, Format, OutputSpec
from reelkube.api.timeline import COLOR_PATTERN, Box, Fit, ImageClip, Position, TextClip, Timeline, Track
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext

TEXT_WIDTH = 0.85
"""Wrap width of the text lines, as a fraction of the frame width."""
LINE_HEIGHT = 1.25
"""Rough line height per font pixel, used to stack the text blocks."""
GLYPH_WIDTH = 0.55
"""Rough average glyph width per font pixel (DejaVu Sans), used to estimate wrapping."""


class AdSize(ApiModel):
    """Size of the ad in pixels."""

    width: int = Field(default=1080, ge=16, le=7680)
    """Width in pixels."""
    height: int = Field(default=1080, ge=16, le=7680)
    """Height in pixels."""


class StaticAdProps(ApiModel):
    """Props of the static-ad template."""

    headline: str = Field(min_length=1, max_length=120)
    """Large bold line under the product image."""
    subheadline: str | None = Field(default=None, min_length=1, max_length=240)
    """Smaller line under the headline."""
    productImage: str = Field(min_length=1, max_length=4096)
    """Product image (path relative to the manifest, http(s) URL or s3://), fitted whole into the
    upper half; a PNG with transparency shows the brand colour through."""
    size: AdSize = Field(default_factory=AdSize)
    """Size of the ad (output.width/height, when given, take precedence)."""
    brandColor: str = Field(default="#1f4fd1", pattern=COLOR_PATTERN)
    """Background colour as #rrggbb; text is white on dark colours and near-black on light ones."""
    cta: str | None = Field(default=None, min_length=1, max_length=40)
    """Call to action, drawn as a button at the bottom (e.g. `Shop now`)."""


def is_light(color: str) -> bool:
    """Whether dark text reads better than white on `color` (#rrggbb), by relative luminance."""
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.6


def estimated_lines(text: str, font_size: int, width: int) -> int:
    """How many lines `text` wraps into at `font_size` within `width` pixels (an estimate)."""
    per_line = max(1, int(width / (font_size * GLYPH_WIDTH)))
    return sum(max(1, math.ceil(len(paragraph) / per_line)) for paragraph in text.split("\n"))


def still_output(output: OutputSpec) -> OutputSpec:
    """The manifest's output as a still: kept if it asks for png or jpeg, png otherwise."""
    if output.format in STILL_FORMATS:
        return output
    return output.model_copy(update={"format": Format.PNG})


def expand_static_ad(props: StaticAdProps, context: TemplateContext) -> Expansion:
    """Lay out the ad as a one-frame timeline with the brand colour as the canvas."""
    # One frame at 1 fps: a still has no time, and the engine renders exactly one frame.
    canvas = Canvas.for_output(context.output, props.size.width, props.size.height, 1.0)
    frame = 1 / canvas.fps
    width, height = canvas.width, canvas.height
    text_color = "#111111" if is_light(props.brandColor) else "#ffffff"

    box_top = round(height * 0.06)
    box = Box(
        left=round(width * 0.1),
        top=box_top,
        width=max(1, round(width * 0.8)),
        height=max(1, round(height * 0.5)),
    )
    product = ImageClip(src=props.productImage, start=0, duration=frame, fit=Fit.CONTAIN, box=box)
    tracks = [Track(name="product", clips=[product])]

    # Text blocks are anchored at the top with margin 0, so offsetY is their exact top edge.
    text_top = box_top + (box.height or 0) + canvas.scaled(0.04)
    headline_size = canvas.scaled(0.075)
    headline = TextClip(
        text=props.headline,
        start=0,
        duration=frame,
        bold=True,
        fontSize=headline_size,
        color=text_color,
        position=Position.TOP,
        margin=0,
        offsetY=text_top,
        maxWidth=TEXT_WIDTH,
        shadow=False,
    )
    tracks.append(Track(name="headline", clips=[headline]))
    if props.subheadline:
        lines = estimated_lines(props.headline, headline_size, round(width * TEXT_WIDTH))
        subheadline = TextClip(
            text=props.subheadline,
            start=0,
            duration=frame,
            fontSize=canvas.scaled(0.042),
            color=text_color,
            position=Position.TOP,
            margin=0,
            offsetY=text_top + round(lines * headline_size * LINE_HEIGHT) + canvas.scaled(0.02),
            maxWidth=TEXT_WIDTH,
            shadow=False,
        )
        tracks.append(Track(name="subheadline", clips=[subheadline]))
    if props.cta:
        button = TextClip(
            text=props.cta,
            start=0,
            duration=frame,
            bold=True,
            fontSize=canvas.scaled(0.04),
            color=props.brandColor,
            position=Position.BOTTOM,
            margin=canvas.scaled(0.06),
            background=True,
            backgroundColor="#ffffff" if not is_light(props.brandColor) else "#111111",
            backgroundOpacity=1.0,
            backgroundPadding=canvas.scaled(0.022),
            shadow=False,
        )
        tracks.append(Track(name="cta", clips=[button]))

    timeline = Timeline(
        width=width,
        height=height,
        fps=canvas.fps,
        duration=frame,
        background=props.brandColor.lower(),
        tracks=tracks,
    )
    output = still_output(context.output)
    info = {"width": width, "height": height, "format": output.format.value}
    return Expansion(timeline=timeline, info=info, output=output)


STATIC_AD = Template(name="static-ad", props_model=StaticAdProps, expand=expand_static_ad)
