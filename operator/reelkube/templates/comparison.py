"""comparison: A vs B — an intro card, a split screen with the two subjects, attribute rows
revealed one at a time with the narration, and a verdict card.

Layers, bottom first: the pictures (the intro and verdict as brand cards; under the rows the
fallback colour, covered by the split), the split screen (A's visual in the left half, B's in the
right, over the whole run of rows, each picked like any scene's: URL, library match, stock
media or fallback colour), a tint, a divider, the two names, each row (a dark band with the
attribute in the middle and A's and B's values in their halves) appearing with its narration and
staying to the verdict, the intro and verdict texts, word-highlight captions, the logo; the voice
and ducked music. 16:9 by default. The storyboard also lists the two subjects and their visuals (`subjects`).
"""

from __future__ import annotations

from pydantic import Field

from reelkube.api.common import ApiModel
from reelkube.api.timeline import (
    Box,
    Clip,
    ColorClip,
    Fit,
    ImageClip,
    Position,
    TextClip,
    Timeline,
    Track,
    VideoClip,
)
from reelkube.scenes.brief import AssetKind, BriefCommon, OnScreenText, SceneSpec, Visual
from reelkube.scenes.layers import caption_track, picture_track, sound_tracks, watermark_track
from reelkube.scenes.library import ChosenVisual, choose_visuals
from reelkube.scenes.planning import ScenePlan, load_library, orientation_of, plan_scenes
from reelkube.scenes.splitting import SceneDraft, drafts_from_scenes
from reelkube.scenes.stock import stock_provider
from reelkube.scenes.storyboard import StoryboardScene
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.explainer import explainer_canvas, plan_info

ROWS_TOP = 0.2
ROWS_BOTTOM = 0.68
"""The rows' band, as shares of the height (clear of the names above and the captions below)."""
ROW_BAND = (0.08, 0.92)
"""The rows' dark band spans this share of the width, so the halves' edges stay in view."""


class Subject(ApiModel):
    """One side of the comparison."""

    name: str = Field(min_length=1, max_length=80)
    """Its name, at the top of its half."""
    visual: Visual | None = None
    """Its picture; empty: the library's best match for its name."""


class Row(ApiModel):
    """One attribute compared."""

    attribute: str = Field(min_length=1, max_length=80)
    """What is compared (e.g. "Price"), in the middle of the row."""
    a: str = Field(min_length=1, max_length=80)
    """A's value, in A's half."""
    b: str = Field(min_length=1, max_length=80)
    """B's value, in B's half."""
    narration: str | None = Field(default=None, min_length=1, max_length=1000)
    """What the voice says as the row appears; empty: the attribute and both values read out."""


class Verdict(ApiModel):
    """The closing card."""

    text: str = Field(min_length=1, max_length=200)
    """The verdict, large on the card."""
    narration: str | None = Field(default=None, min_length=1, max_length=1000)
    """What the voice says; empty: the text is read out."""


class ComparisonProps(BriefCommon):
    """Props of the comparison template (the brief's shared fields, and these)."""

    a: Subject
    """The left subject."""
    b: Subject
    """The right subject."""
    intro: str | None = Field(default=None, min_length=1, max_length=1000)
    """What the voice says over the intro card; empty: "A versus B"."""
    rows: list[Row] = Field(min_length=1, max_length=8)
    """The attributes, revealed one at a time."""
    verdict: Verdict
    """The closing card."""


def comparison_scenes(props: ComparisonProps) -> list[SceneSpec]:
    """Intro card, one scene per row, verdict card."""
    title = f"{props.a.name} vs {props.b.name}"
    scenes = [
        SceneSpec(
            narration=props.intro or f"{props.a.name} versus {props.b.name}.",
            text=OnScreenText(heading=title),
            layout="card",
        )
    ]
    for row in props.rows:
        said = row.narration or f"{row.attribute}: {props.a.name}, {row.a}. {props.b.name}, {row.b}."
        scenes.append(SceneSpec(narration=said, text=OnScreenText(heading=row.attribute), layout="card"))
    scenes.append(
        SceneSpec(
            narration=props.verdict.narration or props.verdict.text,
            text=OnScreenText(heading=props.verdict.text),
            layout="card",
        )
    )
    return scenes


def subject_visuals(props: ComparisonProps, context: TemplateContext, canvas: Canvas) -> list[ChosenVisual]:
    """A's and B's pictures, chosen like scene visuals: a URL, the library's best match for the
    query (or the name), stock media where the brief asks for it, else a fallback colour. The
    output's orientation is preferred, as for scenes."""
    drafts = [
        SceneDraft(index=i, sentences=(), visual=subject.visual or Visual(query=subject.name))
        for i, subject in enumerate((props.a, props.b))
    ]
    assets = load_library(props.library, context)
    provider = stock_provider(props.stock)
    search = provider.search if provider is not None else None
    return choose_visuals(drafts, assets, orientation_of(canvas), props.style.primaryColor, search)


def plan_comparison(
    props: ComparisonProps,
    context: TemplateContext,
    *,
    estimate: bool = False,
    render: bool = True,
    sides: list[ChosenVisual] | None = None,
) -> ScenePlan:
    """The plan: intro, rows, verdict; the storyboard also names the subjects and their visuals
    (`sides`, when the caller has chosen them already)."""
    canvas = explainer_canvas(props, context)
    sides = sides if sides is not None else subject_visuals(props, context, canvas)
    extras = {
        "subjects": [
            {"side": side, "name": subject.name, "visual": visual.to_dict()}
            for side, subject, visual in zip(("a", "b"), (props.a, props.b), sides, strict=True)
        ]
    }
    return plan_scenes(
        "comparison",
        drafts_from_scenes(comparison_scenes(props)),
        props,
        canvas,
        context,
        estimate=estimate,
        voice_track=render,
        extras=extras,
    )


def expand_comparison(props: ComparisonProps, context: TemplateContext) -> Expansion:
    """Plan the scenes, then lay out the split screen, names, rows, cards, captions and sound."""
    canvas = explainer_canvas(props, context)
    # Chosen once: the plan's storyboard and the split screen show the same pictures.
    sides = subject_visuals(props, context, canvas)
    plan = plan_comparison(props, context, sides=sides)
    style = props.style
    scenes = plan.storyboard.scenes
    intro, rows, verdict = scenes[0], scenes[1:-1], scenes[-1]
    start, end = rows[0].start, rows[-1].end
    half = canvas.width // 2
    tracks = [picture_track(plan, canvas, style)]
    split = [
        _half(
            visual,
            Box(left=i * half, top=0, width=half, height=canvas.height),
            start,
            end,
            style.primaryColor,
        )
        for i, visual in enumerate(sides)
    ]
    tracks.append(Track(name="split", clips=split))
    overlay: list[Clip] = [
        ColorClip(
            color="#000000", opacity=max(0.35, style.tintOpacity), start=start, duration=round(end - start, 3)
        ),
    ]
    divider = max(2, canvas.scaled(0.006))
    overlay.append(
        ColorClip(
            color=style.textColor,
            start=start,
            duration=round(end - start, 3),
            box=Box(left=half - divider // 2, top=0, width=divider, height=canvas.height),
        )
    )
    tracks.append(Track(name="tint", clips=overlay))
    texts: list[Clip] = []
    name_size = canvas.scaled(0.07)
    for sign, subject in ((-1, props.a), (1, props.b)):
        texts.append(
            TextClip(
                text=subject.name,
                start=start,
                duration=round(end - start, 3),
                bold=True,
                font=style.font,
                color=style.textColor,
                fontSize=name_size,
                position=Position.TOP,
                offsetX=sign * canvas.width // 4,
                margin=canvas.scaled(0.05),
                maxWidth=0.45,
            )
        )
    row_clips, bands = row_layers(props, rows, end, canvas)
    texts += row_clips
    for card in (intro, verdict):
        texts.append(_card_title(card, canvas, props))
    tracks.append(Track(name="rows", clips=list[Clip](bands)))
    tracks.append(Track(name="text", clips=sorted(texts, key=lambda c: c.start or 0)))
    captions = caption_track(plan, canvas, style, context.workdir.resolve())
    if captions:
        tracks.append(captions)
    watermark = watermark_track(canvas, style, plan.storyboard.duration)
    if watermark:
        tracks.append(watermark)
    tracks += sound_tracks(plan, style)
    timeline = Timeline(
        width=canvas.width,
        height=canvas.height,
        fps=canvas.fps,
        duration=plan.storyboard.duration,
        tracks=tracks,
    )
    return Expansion(timeline=timeline, artifacts=plan.artifacts, info=plan_info(plan) | {"rows": len(rows)})


def row_geometry(count: int, canvas: Canvas) -> tuple[int, int]:
    """(top of the first row, row height) in pixels for `count` rows in the rows' band."""
    top = round(canvas.height * ROWS_TOP)
    height = round(canvas.height * (ROWS_BOTTOM - ROWS_TOP) / max(count, 4))
    return top, height


def row_layers(
    props: ComparisonProps, rows: list[StoryboardScene], end: float, canvas: Canvas
) -> tuple[list[TextClip], list[ColorClip]]:
    """Each row's band and three texts, from its scene's start to the end of the rows."""
    top, height = row_geometry(len(rows), canvas)
    size = min(canvas.scaled(0.05), round(height * 0.5))
    left, right = (round(canvas.width * share) for share in ROW_BAND)
    texts: list[TextClip] = []
    bands: list[ColorClip] = []
    for number, (row, scene) in enumerate(zip(props.rows, rows, strict=True)):
        y = top + number * height
        duration = round(end - scene.start, 3)
        bands.append(
            ColorClip(
                color="#000000",
                opacity=0.55,
                start=scene.start,
                duration=duration,
                fadeIn=0.2,
                box=Box(left=left, top=y + 2, width=right - left, height=height - 4),
            )
        )
        offset = y + (height - size) // 2
        for text, shift, color in (
            (row.attribute, 0, props.style.accentColor),
            (row.a, -canvas.width // 4, props.style.textColor),
            (row.b, canvas.width // 4, props.style.textColor),
        ):
            texts.append(
                TextClip(
                    text=text,
                    start=scene.start,
                    duration=duration,
                    fadeIn=0.2,
                    bold=shift == 0,
                    font=props.style.font,
                    color=color,
                    fontSize=size,
                    position=Position.TOP,
                    offsetX=shift,
                    offsetY=offset,
                    margin=0,
                    maxWidth=0.3,
                    shadow=False,
                )
            )
    return texts, bands


def _half(visual: ChosenVisual, box: Box, start: float, end: float, color: str) -> Clip:
    duration = round(end - start, 3)
    if visual.source == "fallback" or visual.src is None:
        return ColorClip(color=visual.color or color, start=start, duration=duration, box=box)
    if visual.kind == AssetKind.VIDEO:
        return VideoClip(src=visual.src, start=start, duration=duration, loop=True, fit=Fit.COVER, box=box)
    return ImageClip(src=visual.src, start=start, duration=duration, fit=Fit.COVER, box=box)


def _card_title(scene: StoryboardScene, canvas: Canvas, props: ComparisonProps) -> TextClip:
    return TextClip(
        text=scene.text.heading or scene.narration,
        start=scene.start,
        duration=scene.duration,
        fadeIn=0.3,
        bold=True,
        font=props.style.font,
        color=props.style.textColor,
        fontSize=canvas.scaled(0.085),
        position=Position.CENTER,
        offsetY=-canvas.scaled(0.1),
        margin=canvas.scaled(0.08),
    )


COMPARISON = Template(name="comparison", props_model=ComparisonProps, expand=expand_comparison)
