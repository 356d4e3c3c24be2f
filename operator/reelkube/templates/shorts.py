"""shorts: a 9:16 short from a script or scenes: a hook in the first two seconds, a cut every
scene, large word-by-word captions with the spoken word emphasised, a thin progress bar along
the top and a call-to-action end card.

Layers, bottom first: the pictures (each scene's visual, cut to the narration, then the CTA
card), a tint over media, the fallback cards' text, the hook line (the first HOOK_SECONDS), the
CTA text, a scene's `text.number` badge (top left) and `text.label` tag (top right), the
captions (larger than the explainer's; the current word coloured and enlarged), the progress
bar, the logo watermark; the voice with music ducked under it.

Artifacts as for every scene-based format: `voiceover`, `timings`, `subtitles`, `storyboard`,
`storyboardSheet`; plus the progress bar's clip is made in the workdir.
"""

from __future__ import annotations

from pydantic import Field

from reelkube.api.timeline import Clip, Position, Slide, SlideFrom, TextClip, Timeline, Track
from reelkube.scenes.brief import BriefFields
from reelkube.scenes.layers import (
    caption_track,
    card_text,
    corner_texts,
    fallback_texts,
    picture_track,
    progress_bar_track,
    sound_tracks,
    tint_track,
    watermark_track,
)
from reelkube.scenes.planning import CardRequest, ScenePlan, plan_scenes
from reelkube.scenes.splitting import SceneDraft, drafts_from_scenes, drafts_from_script
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.explainer import plan_info

DEFAULT_WIDTH = 1080
DEFAULT_HEIGHT = 1920
DEFAULT_FPS = 30.0
HOOK_SECONDS = 2.0
CTA_SECONDS = 2.0
CAPTION_SCALE = 1.4


class ShortsProps(BriefFields):
    """Props of the shorts template (the brief's fields, and these)."""

    hook: str | None = Field(default=None, min_length=1, max_length=120)
    """The line shown over the first two seconds; empty: the first scene's heading, else none."""
    cta: str | None = Field(default="Follow for more", min_length=1, max_length=120)
    """Call to action on the end card; empty: no end card."""


def shorts_canvas(context: TemplateContext) -> Canvas:
    """1080x1920 unless the manifest's output says otherwise."""
    return Canvas.for_output(context.output, DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS)


def shorts_drafts(props: BriefFields) -> list[SceneDraft]:
    """One scene per sentence of the script (no section headings), or the scenes as listed."""
    if props.script is not None:
        return drafts_from_script(props.script, headings=False)
    return drafts_from_scenes(props.scenes or [])


def plan_shorts(
    props: ShortsProps, context: TemplateContext, *, estimate: bool = False, render: bool = True
) -> ScenePlan:
    """The short's scene plan: the scenes, then the CTA card."""
    return plan_scenes(
        "shorts",
        shorts_drafts(props),
        props,
        shorts_canvas(context),
        context,
        outros=[CardRequest("cta", CTA_SECONDS, props.cta)] if props.cta else [],
        estimate=estimate,
        voice_track=render,
    )


def expand_shorts(props: ShortsProps, context: TemplateContext) -> Expansion:
    """Plan the scenes, then lay out pictures, hook, captions, progress bar and end card."""
    plan = plan_shorts(props, context)
    canvas = shorts_canvas(context)
    style = props.style
    workdir = context.workdir.resolve()
    total = plan.storyboard.duration
    tracks = [picture_track(plan, canvas, style)]
    tint = tint_track(plan, style)
    if tint:
        tracks.append(tint)
    texts: list[Clip] = [*fallback_texts(plan, canvas, style)]
    hook = props.hook or plan.storyboard.scenes[0].text.heading
    if hook:
        texts.append(hook_text(hook, canvas, props, min(HOOK_SECONDS, total)))
    texts += [card_text(card, canvas, style, size=0.09) for card in plan.storyboard.cards]
    texts += corner_texts(plan, canvas, style)
    if texts:
        tracks.append(Track(name="text", clips=sorted(texts, key=lambda c: c.start or 0)))
    captions = caption_track(plan, canvas, style, workdir, scale=CAPTION_SCALE, emphasis=True)
    if captions:
        tracks.append(captions)
    tracks.append(progress_bar_track(canvas, style, total, workdir))
    watermark = watermark_track(canvas, style, total)
    if watermark:
        tracks.append(watermark)
    tracks += sound_tracks(plan, style)
    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=total, tracks=tracks
    )
    info = plan_info(plan) | {"hook": hook}
    return Expansion(timeline=timeline, artifacts=plan.artifacts, info=info)


def hook_text(hook: str, canvas: Canvas, props: ShortsProps, duration: float) -> TextClip:
    """The hook: large, bold, on an accent box in the upper third, popping in at once."""
    size = canvas.scaled(0.085)
    return TextClip(
        text=hook,
        start=0,
        duration=duration,
        bold=True,
        font=props.style.font,
        color="#000000",
        fontSize=size,
        position=Position.TOP,
        offsetY=round(canvas.height * 0.18),
        margin=canvas.scaled(0.07),
        maxWidth=0.86,
        background=True,
        backgroundColor=props.style.accentColor,
        backgroundOpacity=1.0,
        backgroundPadding=round(size * 0.3),
        shadow=False,
        slide=Slide(start=SlideFrom.TOP, distance=canvas.scaled(0.04), duration=0.2),
    )


SHORTS = Template(name="shorts", props_model=ShortsProps, expand=expand_shorts)
