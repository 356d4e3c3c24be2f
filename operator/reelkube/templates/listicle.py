"""listicle: "N things" — an intro, one scene per item with a large number badge (counting up or
down), the item's title and visual, narration per item, an outro card.

Layers, bottom first: the pictures (the intro as a brand card, each item's visual — library
asset, URL or fallback card — then the outro card), a tint over media, the intro's title, for
each item its number badge (accent box, top left) with the title stacked under it and its
`text.label` as a tag at the top right, the card texts, word-highlight captions, the logo; the
voice with music ducked under it. 16:9 by default, 9:16 with `orientation: portrait`.
Artifacts as for every scene-based format.
"""

from __future__ import annotations

from pydantic import Field

from reelkube.api.timeline import Clip, Position, TextClip, Timeline, Track
from reelkube.engine.text_layout import Align, TextBlock, TextBox, stack_blocks
from reelkube.scenes.brief import BriefCommon, OnScreenText, SceneSpec, Visual
from reelkube.scenes.layers import (
    badge_geometry,
    caption_track,
    card_text,
    corner_texts,
    fallback_texts,
    number_badge,
    picture_track,
    sound_tracks,
    tint_track,
    watermark_track,
)
from reelkube.scenes.planning import CardRequest, ScenePlan, plan_scenes
from reelkube.scenes.splitting import drafts_from_scenes
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.explainer import explainer_canvas, plan_info
from reelkube.templates.layout import line_clip

OUTRO_SECONDS = 2.5
TITLE_BOTTOM = 0.6
"""Where an item's title box ends, as a share of the frame's height (the captions are below)."""


class ListItem(SceneSpec):
    """One item: its title (on screen, under the number) and the scene fields."""

    title: str = Field(min_length=1, max_length=200)
    """The item's title, stacked under its number badge."""


class ListicleProps(BriefCommon):
    """Props of the listicle template (the brief's shared fields, and these)."""

    title: str = Field(min_length=1, max_length=200)
    """The intro's title, e.g. "Five facts about the ocean"."""
    intro: str | None = Field(default=None, min_length=1, max_length=2000)
    """What the voice says over the intro; empty: the title is read out."""
    items: list[ListItem] = Field(min_length=1, max_length=50)
    """The items, in the order they are shown."""
    countdown: bool = False
    """Number the items down to 1 instead of up from 1."""
    outro: str | None = Field(default="Thanks for watching", min_length=1, max_length=200)
    """Outro card text; empty: no outro card."""


def item_number(position: int, count: int, countdown: bool) -> int:
    """The badge of the item at `position` (0-based) of `count`."""
    return count - position if countdown else position + 1


def listicle_scenes(props: ListicleProps) -> list[SceneSpec]:
    """The intro as a card scene, then one scene per item with its number and title."""
    intro = SceneSpec(
        narration=props.intro or props.title, text=OnScreenText(heading=props.title), layout="card"
    )
    count = len(props.items)
    scenes = [intro]
    for position, item in enumerate(props.items):
        text = item.text.model_copy(
            update={"heading": item.title, "number": item_number(position, count, props.countdown)}
        )
        visual = item.visual or Visual(query=" ".join(filter(None, [item.title, item.narration])))
        scenes.append(
            SceneSpec(
                narration=item.narration,
                text=text,
                visual=visual,
                duration=item.duration,
                layout=item.layout,
                transition=item.transition,
            )  # fmt: skip
        )
    return scenes


def plan_listicle(
    props: ListicleProps, context: TemplateContext, *, estimate: bool = False, render: bool = True
) -> ScenePlan:
    """The listicle's scene plan: intro, items, outro card."""
    return plan_scenes(
        "listicle",
        drafts_from_scenes(listicle_scenes(props)),
        props,
        explainer_canvas(props, context),
        context,
        outros=[CardRequest("outro", OUTRO_SECONDS, props.outro)] if props.outro else [],
        estimate=estimate,
        voice_track=render,
    )


def expand_listicle(props: ListicleProps, context: TemplateContext) -> Expansion:
    """Plan the scenes, then lay out pictures, badges, titles, captions and sound."""
    plan = plan_listicle(props, context)
    canvas = explainer_canvas(props, context)
    style = props.style
    total = plan.storyboard.duration
    tracks = [picture_track(plan, canvas, style)]
    tint = tint_track(plan, style)
    if tint:
        tracks.append(tint)
    texts: list[Clip] = [*fallback_texts(plan, canvas, style, skip_headed=True)]
    texts += [card_text(card, canvas, style) for card in plan.storyboard.cards]
    intro = plan.storyboard.scenes[0]
    texts.append(card_text_for(intro.text.heading or props.title, intro.start, intro.duration, canvas, props))
    for scene in plan.storyboard.scenes[1:]:
        texts += badge_and_title(scene.text, scene.start, scene.duration, canvas, props)
    texts += corner_texts(plan, canvas, style, numbers=False)
    tracks.append(Track(name="text", clips=sorted(texts, key=lambda c: c.start or 0)))
    captions = caption_track(plan, canvas, style, context.workdir.resolve())
    if captions:
        tracks.append(captions)
    watermark = watermark_track(canvas, style, total)
    if watermark:
        tracks.append(watermark)
    tracks += sound_tracks(plan, style)
    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=total, tracks=tracks
    )
    return Expansion(
        timeline=timeline, artifacts=plan.artifacts, info=plan_info(plan) | {"items": len(props.items)}
    )


def card_text_for(text: str, start: float, duration: float, canvas: Canvas, props: ListicleProps) -> TextClip:
    """The intro's title, large and centred above the captions."""
    return TextClip(
        text=text, start=start, duration=duration, fadeIn=0.3, bold=True, font=props.style.font,
        color=props.style.textColor, fontSize=canvas.scaled(0.085), position=Position.CENTER,
        offsetY=-canvas.scaled(0.1), margin=canvas.scaled(0.08),
    )  # fmt: skip


def badge_and_title(
    text: OnScreenText, start: float, duration: float, canvas: Canvas, props: ListicleProps
) -> list[TextClip]:
    """The number in an accent box at the top left, the title stacked under it."""
    style = props.style
    size, padding, margin = badge_geometry(canvas)
    clips = []
    if text.number is not None:
        clips.append(number_badge(text.number, start, duration, canvas, style))
    if text.heading:
        # The title stacks under the badge, in a box that ends above the captions: a long one
        # wraps downwards and shrinks before it would reach them.
        title_size = canvas.scaled(0.06)
        top = margin + size + 2 * padding + round(title_size * 0.6)
        box = TextBox(
            x=margin,
            y=top,
            width=round(canvas.width * 0.8) - margin,
            height=max(title_size, round(canvas.height * TITLE_BOTTOM) - top),
        )
        block = TextBlock(text.heading, title_size, round(title_size * 0.6), font=style.font, bold=True)
        for line in stack_blocks([block], box, align=Align.START).lines:
            clips.append(
                line_clip(
                    line, start=start + 0.15, duration=max(0.1, duration - 0.15), fadeIn=0.3, bold=True,
                    color=style.textColor,
                )
            )  # fmt: skip
    return clips


LISTICLE = Template(name="listicle", props_model=ListicleProps, expand=expand_listicle)
