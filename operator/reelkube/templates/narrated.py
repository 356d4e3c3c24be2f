"""narrated: a voiced reel. The script is narrated with Piper (or a given voiceover is used),
captions follow the voice, music plays under it.

Layers, bottom first: the background (a looping muted video, trimmed to the narration; or the
images as a slideshow with slow zooms and crossfades; with both, the images sit contained over
the video; with neither, a dark colour), the burned-in ASS captions; and the soundtrack: the
narration (audio clip `voice`) and the music, looped, at `musicVolume`, ducked under the voice
(`duckUnder: voice`) and faded out over the last seconds.

Expansion makes media, so it is not pure: it synthesizes the narration (or fetches the
voiceover to learn its length, spreading the sentences over it by their length), writes the
timings and the subtitles into the context's workdir and reports them as artifacts
(`voiceover`, `subtitles`, `timings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from reelkube.api.common import ApiModel
from reelkube.api.timeline import (
    AudioClip,
    Clip,
    ColorClip,
    Fit,
    ImageClip,
    KenBurns,
    SubtitlesClip,
    Timeline,
    Track,
    Transition,
    VideoClip,
)
from reelkube.api.ttsjob import DEFAULT_MAX_SCRIPT_CHARS, CaptionStyle, SubtitleFormat, VoiceSpec
from reelkube.errors import InputUnreadable, SpecError
from reelkube.speech.script import split_script
from reelkube.subtitles.files import CaptionLook, write_subtitles
from reelkube.subtitles.timings import Timings
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext

DEFAULT_WIDTH = 1080
DEFAULT_HEIGHT = 1920
DEFAULT_FPS = 30.0
TAIL_SECONDS = 0.5
"""Picture and music kept after the last word, so the ending does not cut off."""
MUSIC_FADE_OUT = 2.0
MUSIC_FADE_IN = 0.5
IMAGE_TRANSITION = 0.5
IMAGE_ZOOM_END = 1.12
BACKGROUND_COLOR = "#101820"


class NarratedProps(ApiModel):
    """Props of the narrated template."""

    script: str = Field(min_length=1, max_length=DEFAULT_MAX_SCRIPT_CHARS)
    """The narration's text. With `voiceoverUrl` it is only used for the captions."""
    voiceoverUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """A recorded voiceover to use instead of synthesizing the script (path relative to the
    manifest, http(s) URL or s3://). Caption timings are then estimated across its length."""
    backgroundVideoUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Background video, looped (muted) and trimmed to the narration."""
    images: list[str] | None = Field(default=None, min_length=1, max_length=100)
    """Images shown as a slideshow over the narration (contained over the video when both)."""
    musicUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Background music, looped under the voice and faded out at the end."""
    musicVolume: float = Field(default=0.2, ge=0, le=1)
    """Music gain (linear); the music is also ducked while the voice speaks."""
    captionStyle: CaptionStyle = CaptionStyle.SENTENCE
    """sentence: sentence captions at the bottom; word-highlight: pages of a few words with the
    spoken word coloured."""
    voice: VoiceSpec = Field(default_factory=VoiceSpec)
    """Piper voice settings (ignored with `voiceoverUrl`)."""
    loudnessLufs: float = Field(default=-16.0, ge=-40, le=-5)
    """Loudness of the synthesized narration (EBU R128)."""
    width: int = Field(default=DEFAULT_WIDTH, ge=16, le=7680)
    """Frame width (the manifest's `output.width` takes precedence)."""
    height: int = Field(default=DEFAULT_HEIGHT, ge=16, le=7680)
    """Frame height (the manifest's `output.height` takes precedence)."""

    @model_validator(mode="after")
    def _voice_or_voiceover(self) -> NarratedProps:
        if self.voiceoverUrl and (self.voice.model or self.voice.package or self.voice.provider != "piper"):
            raise ValueError("give voiceoverUrl or a voice, not both")
        return self


def expand_narrated(props: NarratedProps, context: TemplateContext) -> Expansion:
    """Narrate (or measure the voiceover), write captions, and lay out the reel."""
    canvas = Canvas.for_output(context.output, props.width, props.height, DEFAULT_FPS)
    workdir = context.workdir.resolve()  # clip sources must not depend on the base directory
    workdir.mkdir(parents=True, exist_ok=True)
    base_dir = _base_dir(context)
    artifacts: dict[str, Path] = {}
    if props.voiceoverUrl:
        voice_src, timings = _voiceover(props, context, base_dir)
        timings_path = timings.write(workdir / "timings.json")
    else:
        from reelkube.speech.narration import narrate

        narration = narrate(
            props.script,
            props.voice,
            workdir,
            loudness_lufs=props.loudnessLufs,
            base_dir=base_dir,
            stem="voiceover",
            on_progress=context.on_progress,
            policy=context.policy,
            voice_field="spec.props.voice",
        )
        timings, timings_path = narration.timings, narration.timings_path.rename(workdir / "timings.json")
        voice_src = str(narration.wav)
        artifacts["voiceover"] = narration.wav
    look = CaptionLook(width=canvas.width, height=canvas.height)
    subtitles = write_subtitles(
        timings, [SubtitleFormat.ASS], workdir, stem="subtitles", style=props.captionStyle, look=look
    )
    ass_path = subtitles[SubtitleFormat.ASS]
    artifacts["subtitles"] = ass_path
    artifacts["timings"] = timings_path

    total = round(timings.duration + TAIL_SECONDS, 3)
    tracks = _background_tracks(props, total)
    tracks.append(Track(name="captions", clips=[SubtitlesClip(src=str(ass_path), start=0, duration=total)]))
    tracks.append(Track(name="voice", clips=[AudioClip(id="voice", src=voice_src, start=0)]))
    if props.musicUrl:
        music = AudioClip(
            id="music",
            src=props.musicUrl,
            start=0,
            duration=total,
            loop=True,
            volume=props.musicVolume,
            duckUnder="voice",
            fadeIn=min(MUSIC_FADE_IN, total / 4),
            fadeOut=min(MUSIC_FADE_OUT, total / 4),
        )
        tracks.append(Track(name="music", clips=[music]))
    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=total, tracks=tracks
    )
    info: dict[str, Any] = {
        "durationSeconds": total,
        "totalFrames": round(total * canvas.fps),
        "sentences": len(timings.sentences),
        "wordTimingSource": timings.word_timing_source,
    }
    return Expansion(timeline=timeline, artifacts=artifacts, info=info)


def _background_tracks(props: NarratedProps, total: float) -> list[Track]:
    tracks: list[Track] = []
    if props.backgroundVideoUrl:
        video = VideoClip(src=props.backgroundVideoUrl, start=0, duration=total, loop=True, fit=Fit.COVER)
        tracks.append(Track(name="background", clips=[video]))
    elif not props.images:
        tracks.append(
            Track(name="background", clips=[ColorClip(color=BACKGROUND_COLOR, start=0, duration=total)])
        )
    if props.images:
        slides = _slideshow(props.images, total, contained=bool(props.backgroundVideoUrl))
        tracks.append(Track(name="images", clips=list[Clip](slides)))
    return tracks


def _slideshow(images: list[str], total: float, *, contained: bool) -> list[ImageClip]:
    """Images sharing the narration's length; neighbours crossfade over IMAGE_TRANSITION."""
    count = len(images)
    overlap = min(IMAGE_TRANSITION, total / (2 * count)) if count > 1 else 0.0
    # count * each - (count - 1) * overlap == total
    each = (total + (count - 1) * overlap) / count
    clips = []
    for index, src in enumerate(images):
        clips.append(
            ImageClip(
                src=src,
                start=round(index * (each - overlap), 3),
                duration=round(each, 3) if index < count - 1 else round(total - index * (each - overlap), 3),
                fit=Fit.CONTAIN if contained else Fit.COVER,
                kenBurns=None if contained else KenBurns(zoomStart=1.0, zoomEnd=IMAGE_ZOOM_END),
                transition=Transition(duration=overlap) if index > 0 and overlap > 0 else None,
            )
        )
    return clips


def _voiceover(props: NarratedProps, context: TemplateContext, base_dir: Path) -> tuple[str, Timings]:
    """Fetch the voiceover to learn its length; sentence timings spread over it by text length."""
    from reelkube.engine.inputs import fetch_one
    from reelkube.speech.estimate import estimate_timings

    assert props.voiceoverUrl is not None
    fetched = fetch_one(
        props.voiceoverUrl,
        "audio",
        context.workdir,
        context.limits,
        base_dir=base_dir,
        storage=context.storage,
        policy=context.policy,
        field="spec.props.voiceoverUrl",
    )
    duration = fetched.info.duration if fetched.info is not None else None
    if not duration or duration <= 0:
        raise InputUnreadable(f"props.voiceoverUrl: cannot tell the length of {props.voiceoverUrl}")
    sentences = split_script(props.script)
    if not sentences:
        raise SpecError("spec.props.script: holds no text for the captions")
    return str(fetched.path), estimate_timings(sentences, duration)


def _base_dir(context: TemplateContext) -> Path:
    """Where relative paths in the props point: the manifest's directory, else the cwd."""
    return context.base_dir if context.base_dir is not None else Path.cwd()


NARRATED = Template(name="narrated", props_model=NarratedProps, expand=expand_narrated)
