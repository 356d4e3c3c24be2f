"""sentences: the Lambda renderer's input as it was — sentences, each with its text and footage,
a voice-over and music — rendered with the scene layer.

One scene per sentence, its footage covering the frame (a video loops, muted; an image gets a
slow zoom); a sentence without footage gets the library's best match for its words, else a
fallback card. With `voiceoverUrl` the recording is played as it is and the sentences are spread
over it by their length (timings "estimated"); without it the sentences are narrated with Piper
and each scene lasts its sentence. Captions follow the voice word by word; music is ducked under
it. 9:16 by default (`orientation: landscape` for 16:9). Artifacts as for every scene-based format.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from reelkube.api.common import ApiModel
from reelkube.api.timeline import Timeline, Track
from reelkube.errors import InputUnreadable
from reelkube.scenes.brief import BriefCommon, Orientation, SceneSpec, Visual
from reelkube.scenes.layers import (
    caption_track,
    fallback_texts,
    picture_track,
    sound_tracks,
    tint_track,
    watermark_track,
)
from reelkube.scenes.planning import ScenePlan, plan_scenes
from reelkube.scenes.splitting import SceneDraft, drafts_from_scenes
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.explainer import plan_info

DEFAULT_FPS = 30.0


class Sentence(ApiModel):
    """One sentence of the Lambda renderer's input."""

    text: str = Field(min_length=1, max_length=2000)
    """What is said (and captioned) over the footage."""
    footageUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Image or video shown while the sentence is heard; empty: the library's best match."""


class SentencesProps(BriefCommon):
    """Props of the sentences template (the brief's shared fields, and these)."""

    sentences: list[Sentence] = Field(min_length=1, max_length=200)
    """The sentences, in order."""
    voiceoverUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """A recorded voice-over of all the sentences; empty: narrate them with Piper."""
    musicUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Music under the voice (same as `style.musicUrl`, which it overrides)."""


def sentences_canvas(props: SentencesProps, context: TemplateContext) -> Canvas:
    """9:16 unless the brief asks for landscape (the manifest's output size wins)."""
    width, height = (1920, 1080) if props.orientation == Orientation.LANDSCAPE else (1080, 1920)
    return Canvas.for_output(context.output, width, height, DEFAULT_FPS)


def sentence_drafts(props: SentencesProps) -> list[SceneDraft]:
    """One scene per sentence; a sentence is kept whole (it is its own scene, even when short)."""
    scenes = [
        SceneSpec(narration=s.text, visual=Visual(url=s.footageUrl) if s.footageUrl else None)
        for s in props.sentences
    ]
    drafts = drafts_from_scenes(scenes)
    return [
        d if len(d.sentences) == 1 else _whole(d, s.text)
        for d, s in zip(drafts, props.sentences, strict=True)
    ]


def _whole(draft: SceneDraft, text: str) -> SceneDraft:
    from dataclasses import replace

    return replace(draft, sentences=(" ".join(text.split()),))


def plan_sentences(
    props: SentencesProps, context: TemplateContext, *, estimate: bool = False, render: bool = True
) -> ScenePlan:
    """The plan: scenes cut at the sentences, timed by Piper or spread over the voice-over."""
    voiceover = _voiceover(props.voiceoverUrl, context) if props.voiceoverUrl else None
    return plan_scenes(
        "sentences",
        sentence_drafts(props),
        props,
        sentences_canvas(props, context),
        context,
        estimate=estimate,
        voice_track=render,
        voiceover=voiceover,
    )


def expand_sentences(props: SentencesProps, context: TemplateContext) -> Expansion:
    """Plan the scenes, then lay out footage, captions, voice and music."""
    plan = plan_sentences(props, context)
    canvas = sentences_canvas(props, context)
    style = props.style.model_copy(update={"musicUrl": props.musicUrl}) if props.musicUrl else props.style
    total = plan.storyboard.duration
    tracks = [picture_track(plan, canvas, style)]
    tint = tint_track(plan, style)
    if tint:
        tracks.append(tint)
    texts = fallback_texts(plan, canvas, style)
    if texts:
        tracks.append(Track(name="text", clips=list(texts)))
    captions = caption_track(plan, canvas, style, context.workdir.resolve(), scale=1.2, emphasis=True)
    if captions:
        tracks.append(captions)
    watermark = watermark_track(canvas, style, total)
    if watermark:
        tracks.append(watermark)
    tracks += sound_tracks(plan, style)
    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=total, tracks=tracks
    )
    return Expansion(timeline=timeline, artifacts=plan.artifacts, info=plan_info(plan))


def _voiceover(location: str, context: TemplateContext) -> tuple[str, float]:
    """The voice-over fetched (to learn its length); its local path and seconds."""
    from reelkube.engine.inputs import fetch_one

    base_dir = context.base_dir if context.base_dir is not None else Path.cwd()
    fetched = fetch_one(location, "audio", context.workdir, context.limits, base_dir=base_dir,
                        storage=context.storage, policy=context.policy,
                        field="spec.props.voiceoverUrl")  # fmt: skip
    duration = fetched.info.duration if fetched.info is not None else None
    if not duration or duration <= 0:
        raise InputUnreadable(f"spec.props.voiceoverUrl: cannot tell the length of {location}")
    return str(fetched.path.resolve()), duration


SENTENCES = Template(name="sentences", props_model=SentencesProps, expand=expand_sentences)
