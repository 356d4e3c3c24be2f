"""explainer: a narrated explainer from a script or scenes (16:9 by default, 9:16 on request).

Layers, bottom first: the pictures (a title card, each scene's visual — library asset, URL or a
designed fallback card — cut to the narration, an outro card), a tint over media, the fallback
cards' text, each section's heading (and a scene's bullet under it) as a lower third of stacked
blocks, a scene's `text.number` as a badge at the top left and its `text.label` as a tag at the
top right, the card titles, word-highlight captions that follow the voice, the logo watermark;
and the sound: the voice, with music ducked under it.

Expansion makes media (the narration, captions, storyboard and its contact sheet) and reports it
as artifacts: `voiceover`, `timings`, `subtitles`, `storyboard` (storyboard.json) and
`storyboardSheet` (storyboard.png).
"""

from __future__ import annotations

from pydantic import Field

from reelkube.api.timeline import Clip, Slide, SlideFrom, TextClip, Timeline, Track
from reelkube.engine.text_layout import Align, TextBlock, TextBox, VAlign, stack_blocks
from reelkube.scenes.brief import BriefCommon, BriefFields, Orientation
from reelkube.scenes.layers import (
    caption_track,
    card_text,
    corner_texts,
    fallback_texts,
    picture_track,
    sound_tracks,
    tint_track,
    watermark_track,
)
from reelkube.scenes.planning import CardRequest, ScenePlan, plan_scenes
from reelkube.scenes.splitting import SceneDraft, drafts_from_scenes, drafts_from_script
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.layout import line_clip

DEFAULT_FPS = 30.0
LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)
TITLE_SECONDS = 2.5
OUTRO_SECONDS = 2.5
LOWER_THIRD_HEIGHT = 0.3
"""Height of the box a scene's heading and bullet stack in (bottom-aligned above the captions),
as a share of the frame's: longer text shrinks to fit it."""


class ExplainerProps(BriefFields):
    """Props of the explainer template (the brief's fields, and these)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    """Title card text; empty: no title card."""
    outro: str | None = Field(default="Thanks for watching", min_length=1, max_length=200)
    """Outro card text; empty: no outro card."""


def explainer_canvas(props: BriefCommon, context: TemplateContext) -> Canvas:
    """16:9 unless the brief asks for portrait (the manifest's output size wins)."""
    width, height = PORTRAIT if props.orientation == Orientation.PORTRAIT else LANDSCAPE
    return Canvas.for_output(context.output, width, height, DEFAULT_FPS)


def plan_explainer(
    props: ExplainerProps, context: TemplateContext, *, estimate: bool = False, render: bool = True
) -> ScenePlan:
    """The explainer's scene plan: title card, scenes, outro card (`estimate`: no Piper;
    `render=False`: the storyboard alone, no voice track)."""
    return plan_scenes(
        "explainer",
        brief_drafts(props),
        props,
        explainer_canvas(props, context),
        context,
        intro=CardRequest("title", TITLE_SECONDS, props.title) if props.title else None,
        outros=[CardRequest("outro", OUTRO_SECONDS, props.outro)] if props.outro else [],
        estimate=estimate,
        voice_track=render,
    )


def expand_explainer(props: ExplainerProps, context: TemplateContext) -> Expansion:
    """Plan the scenes, then lay out cards, visuals, lower thirds, captions and sound."""
    plan = plan_explainer(props, context)
    canvas = explainer_canvas(props, context)
    return Expansion(timeline=explainer_timeline(plan, canvas, props, context), artifacts=plan.artifacts,
                     info=plan_info(plan))  # fmt: skip


def brief_drafts(props: BriefFields) -> list[SceneDraft]:
    """The brief's scenes: from its script (sections headed) or as listed."""
    return (
        drafts_from_script(props.script)
        if props.script is not None
        else drafts_from_scenes(props.scenes or [])
    )


def explainer_timeline(
    plan: ScenePlan, canvas: Canvas, props: BriefFields, context: TemplateContext
) -> Timeline:
    """The explainer's layers (see the module docstring)."""
    style = props.style
    total = plan.storyboard.duration
    tracks = [picture_track(plan, canvas, style)]
    tint = tint_track(plan, style)
    if tint:
        tracks.append(tint)
    texts: list[Clip] = [
        *fallback_texts(plan, canvas, style, skip_headed=True),
        *lower_thirds(plan, canvas, props),
    ]
    texts += [card_text(card, canvas, style) for card in plan.storyboard.cards]
    texts += corner_texts(plan, canvas, style)
    if texts:
        tracks.append(Track(name="text", clips=sorted(texts, key=lambda c: c.start or 0)))
    captions = caption_track(plan, canvas, style, context.workdir.resolve())
    if captions:
        tracks.append(captions)
    watermark = watermark_track(canvas, style, total)
    if watermark:
        tracks.append(watermark)
    tracks += sound_tracks(plan, style)
    return Timeline(width=canvas.width, height=canvas.height, fps=canvas.fps, duration=total, tracks=tracks)


def lower_thirds(plan: ScenePlan, canvas: Canvas, props: BriefCommon) -> list[TextClip]:
    """Each scene's heading, and its bullet under it, as stacked blocks in brand-coloured boxes
    at the left, above the captions, sliding in. A heading that wraps pushes its bullet's block
    away instead of being drawn over it; both shrink when they would not fit."""
    style = props.style
    size = canvas.scaled(0.055)
    padding = round(size * 0.35)
    # Above the word-highlight captions, which keep a quarter (portrait) or 15% of the height.
    lift = round(canvas.height * (0.36 if canvas.height > canvas.width else 0.33))
    margin = canvas.scaled(0.05)
    height = round(canvas.height * LOWER_THIRD_HEIGHT)
    box = TextBox(
        x=margin + padding,
        y=canvas.height - lift - padding - height,
        width=round(canvas.width * 0.8) - 2 * padding,
        height=height,
    )
    clips: list[TextClip] = []
    for scene in plan.storyboard.scenes:
        if not scene.text.heading and not scene.text.bullet:
            continue
        blocks: list[TextBlock] = []
        opacities: list[float] = []
        # Boxed lines need room between them for their padding: spacing of at least two paddings.
        if scene.text.heading:
            blocks.append(
                TextBlock(
                    scene.text.heading, size, round(size * 0.6), font=style.font, bold=True,
                    line_spacing=0.75, gap_after=0.8, field=f"spec.props.scenes[{scene.index}].text.heading",
                )
            )  # fmt: skip
            opacities.append(0.9)
        if scene.text.bullet:
            bullet = round(size * 0.8)
            blocks.append(
                TextBlock(
                    scene.text.bullet, bullet, round(bullet * 0.6), font=style.font, line_spacing=0.75,
                    field=f"spec.props.scenes[{scene.index}].text.bullet",
                )
            )  # fmt: skip
            opacities.append(0.75)
        stack = stack_blocks(blocks, box, align=Align.START, valign=VAlign.BOTTOM)
        for line in stack.lines:
            clips.append(
                line_clip(
                    line, start=scene.start, duration=scene.duration, fadeIn=0.25,
                    bold=blocks[line.block].bold, color=style.textColor, background=True,
                    backgroundColor=style.primaryColor, backgroundOpacity=opacities[line.block],
                    backgroundPadding=round(line.size * 0.35), shadow=False,
                    slide=Slide(start=SlideFrom.LEFT, distance=canvas.scaled(0.06), duration=0.35),
                )
            )  # fmt: skip
    return clips


def plan_info(plan: ScenePlan) -> dict[str, object]:
    """Facts reported with the render."""
    storyboard = plan.storyboard
    return {
        "durationSeconds": storyboard.duration,
        "totalFrames": round(storyboard.duration * storyboard.fps),
        "scenes": len(storyboard.scenes),
        "fallbackScenes": sum(1 for s in storyboard.scenes if s.visual.source == "fallback"),
        "wordTimingSource": storyboard.word_timing_source,
    }


EXPLAINER = Template(name="explainer", props_model=ExplainerProps, expand=expand_explainer)
