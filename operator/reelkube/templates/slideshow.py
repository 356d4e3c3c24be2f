"""slideshow: images one after another, each fading into the next, with optional title and music.

Durations are in frames so they stay exact: with n images of d frames and transitions of t
frames, image i starts at frame i*(d-t) and the whole show lasts n*d - (n-1)*t frames.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from reelkube.api.common import ApiModel
from reelkube.api.timeline import (
    AudioClip,
    Clip,
    Fit,
    ImageClip,
    Position,
    TextClip,
    Timeline,
    Track,
    Transition,
    TransitionKind,
)
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext

DEFAULT_WIDTH = 1920
DEFAULT_HEIGHT = 1080
DEFAULT_FPS = 30.0
MUSIC_FADE_OUT = 2.0
"""Seconds of music fade at the end (at most half the show)."""
TITLE_FADE = 0.5


class SlideshowProps(ApiModel):
    """Props of the slideshow template."""

    images: list[str] = Field(min_length=1, max_length=500)
    """Images in order (paths relative to the manifest, http(s) URLs or s3://); each covers the frame."""
    durationPerImage: int = Field(default=90, ge=1, le=108000)
    """Frames each image is on screen, transitions included (90 = 3 s at 30 fps)."""
    transitionDuration: int = Field(default=15, ge=0, le=3600, validate_default=True)
    """Frames over which each image fades into the next (0 = hard cuts). Less than `durationPerImage`."""
    showTitle: bool = True
    """Show `title` over the first image (when a title is given)."""
    title: str | None = Field(default=None, min_length=1, max_length=200)
    """Title shown over the first image, fading in and out."""
    musicUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Background music, looped if short and faded out over the last seconds."""

    @field_validator("images")
    @classmethod
    def images_are_named(cls, images: list[str]) -> list[str]:
        """Reject empty entries, which would only fail later at download time."""
        for image in images:
            if not image.strip():
                raise ValueError("image paths must not be empty")
        return images

    @field_validator("transitionDuration")
    @classmethod
    def transition_fits_in_image(cls, transition: int, info: ValidationInfo) -> int:
        """A transition must leave each image some time of its own."""
        per_image = info.data.get("durationPerImage")
        if per_image is not None and transition >= per_image:
            raise ValueError(f"must be less than durationPerImage ({per_image} frames)")
        return transition


def total_frames(images: int, per_image: int, transition: int) -> int:
    """Length of a slideshow in frames: the images' frames minus each overlap."""
    return images * per_image - (images - 1) * transition


def expand_slideshow(props: SlideshowProps, context: TemplateContext) -> Expansion:
    """Lay the images on one track, overlapping by the transition; title and music on their own."""
    canvas = Canvas.for_output(context.output, DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS)
    per_image, overlap = props.durationPerImage, props.transitionDuration
    frames = total_frames(len(props.images), per_image, overlap)
    duration = frames / canvas.fps

    slides: list[Clip] = []
    for index, src in enumerate(props.images):
        transition = None
        if index > 0 and overlap > 0:
            transition = Transition(type=TransitionKind.FADE, duration=overlap / canvas.fps)
        slides.append(
            ImageClip(
                src=src,
                startFrame=index * (per_image - overlap),
                durationFrames=per_image,
                fit=Fit.COVER,
                transition=transition,
            )
        )
    tracks = [Track(name="slides", clips=slides)]

    if props.showTitle and props.title:
        first_image_seconds = per_image / canvas.fps
        fade = min(TITLE_FADE, first_image_seconds / 4)
        title = TextClip(
            text=props.title,
            startFrame=0,
            durationFrames=per_image - overlap if len(props.images) > 1 else per_image,
            fadeIn=fade,
            fadeOut=fade,
            bold=True,
            fontSize=canvas.scaled(0.09),
            position=Position.CENTER,
            background=True,
            backgroundOpacity=0.45,
            backgroundPadding=canvas.scaled(0.025),
        )
        tracks.append(Track(name="title", clips=[title]))

    if props.musicUrl:
        music = AudioClip(
            src=props.musicUrl,
            start=0,
            duration=duration,
            loop=True,
            fadeOut=min(MUSIC_FADE_OUT, duration / 2),
        )
        tracks.append(Track(name="music", clips=[music]))

    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=duration, tracks=tracks
    )
    info = {"durationSeconds": duration, "totalFrames": frames, "images": len(props.images)}
    return Expansion(timeline=timeline, info=info)


SLIDESHOW = Template(name="slideshow", props_model=SlideshowProps, expand=expand_slideshow)
