"""captioned-reel: a vertical reel with a background, a colour tint and an animated title.

Layers, bottom first: the background (a still with a slow Ken Burns zoom, or a looping muted
video) covering the frame; a colour overlay at `overlayOpacity`; the title, fading and sliding
in; the subtitle, fading in after the title. Title and subtitle are stacked blocks
(`engine.text_layout`): a title that wraps pushes the subtitle down, long text shrinks to fit.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

from pydantic import Field

from reelkube.api.common import ApiModel
from reelkube.api.timeline import (
    COLOR_PATTERN,
    ColorClip,
    Fit,
    ImageClip,
    KenBurns,
    Slide,
    SlideFrom,
    Timeline,
    Track,
    VideoClip,
)
from reelkube.engine.text_layout import TextBlock, TextBox, VAlign, stack_blocks
from reelkube.templates.base import Canvas, Expansion, Template, TemplateContext
from reelkube.templates.layout import line_clip

DEFAULT_WIDTH = 1080
DEFAULT_HEIGHT = 1920
DEFAULT_FPS = 30.0
DEFAULT_DURATION = 10.0

# A prop-independent rule, so the timeline stays a pure function of the props: these
# extensions (case-insensitive, query strings ignored) are videos, anything else is a still.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif"})

TITLE_START = 0.5
"""Seconds before the title starts fading in (the background is seen alone first)."""
TITLE_FADE = 0.8
SUBTITLE_START = 1.3
"""The subtitle begins fading in as the title settles."""
SUBTITLE_FADE = 0.8
ZOOM_END = 1.12
"""Ken Burns zoom reached at the end of the reel (1 = the covered frame)."""
TEXT_WIDTH = 0.85
"""Width of the text's box, as a share of the frame's (within the side margins)."""
TEXT_HEIGHT = 0.6
"""Height of the text's box, centred, as a share of the frame's: longer text shrinks to fit."""


class CaptionedReelProps(ApiModel):
    """Props of the captioned-reel template."""

    title: str = Field(min_length=1, max_length=200)
    """Main line, large and bold, fading and sliding in at 0.5 s."""
    subtitle: str | None = Field(default=None, min_length=1, max_length=400)
    """Smaller line under the title, fading in at 1.3 s."""
    backgroundUrl: str = Field(min_length=1, max_length=4096)
    """Background image or video (path relative to the manifest, http(s) URL or s3://). Files ending
    in .mp4, .m4v, .mov, .webm, .mkv, .avi or .gif are treated as video (looped, muted); anything
    else as a still image with a slow zoom."""
    overlayColor: str = Field(default="#000000", pattern=COLOR_PATTERN)
    """Tint laid over the background, as #rrggbb."""
    overlayOpacity: float = Field(default=0.35, ge=0, le=1)
    """Opacity of the tint (0 = none, 1 = solid colour)."""
    durationSeconds: float = Field(default=DEFAULT_DURATION, ge=2, le=600)
    """Length of the reel in seconds (at least 2, so both lines get to appear)."""


def is_video_url(url: str) -> bool:
    """Whether a background URL names a video, by its extension (see VIDEO_EXTENSIONS)."""
    path = urlsplit(url).path if "://" in url else url
    return PurePosixPath(path).suffix.lower() in VIDEO_EXTENSIONS


def text_tracks(props: CaptionedReelProps, canvas: Canvas) -> list[Track]:
    """The title and subtitle as stacked blocks in the middle of the frame: a title that wraps
    pushes the subtitle down, and both shrink together when they would not fit (one clip per
    line, placed where the layout put it)."""
    margin = canvas.scaled(0.06)
    width = min(round(canvas.width * TEXT_WIDTH), canvas.width - 2 * margin)
    top = round(canvas.height * (1 - TEXT_HEIGHT) / 2)
    box = TextBox(
        x=(canvas.width - width) // 2, y=top, width=width, height=round(canvas.height * TEXT_HEIGHT)
    )
    blocks = [
        TextBlock(
            props.title, canvas.scaled(0.085), canvas.scaled(0.045), bold=True, field="spec.props.title"
        )
    ]
    if props.subtitle:
        blocks.append(
            TextBlock(props.subtitle, canvas.scaled(0.045), canvas.scaled(0.028), field="spec.props.subtitle")
        )
    stack = stack_blocks(blocks, box, valign=VAlign.CENTER)
    duration = props.durationSeconds
    title = [
        line_clip(
            line, start=TITLE_START, duration=duration - TITLE_START, fadeIn=TITLE_FADE, bold=True,
            slide=Slide(start=SlideFrom.BOTTOM, distance=canvas.scaled(0.07), duration=TITLE_FADE),
        )
        for line in stack.block_lines(0)
    ]  # fmt: skip
    tracks = [Track(name="title", clips=list(title))]
    if props.subtitle:
        subtitle = [
            line_clip(line, start=SUBTITLE_START, duration=duration - SUBTITLE_START, fadeIn=SUBTITLE_FADE)
            for line in stack.block_lines(1)
        ]
        tracks.append(Track(name="subtitle", clips=list(subtitle)))
    return tracks


def expand_captioned_reel(props: CaptionedReelProps, context: TemplateContext) -> Expansion:
    """Lay out the reel: background, tint, title and subtitle over `durationSeconds`."""
    canvas = Canvas.for_output(context.output, DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS)
    duration = props.durationSeconds
    background: VideoClip | ImageClip
    if is_video_url(props.backgroundUrl):
        background = VideoClip(src=props.backgroundUrl, start=0, duration=duration, fit=Fit.COVER, loop=True)
    else:
        background = ImageClip(
            src=props.backgroundUrl,
            start=0,
            duration=duration,
            fit=Fit.COVER,
            kenBurns=KenBurns(zoomStart=1.0, zoomEnd=ZOOM_END),
        )
    tracks = [Track(name="background", clips=[background])]
    if props.overlayOpacity > 0:
        overlay = ColorClip(
            color=props.overlayColor, opacity=props.overlayOpacity, start=0, duration=duration
        )
        tracks.append(Track(name="overlay", clips=[overlay]))

    tracks += text_tracks(props, canvas)
    timeline = Timeline(
        width=canvas.width, height=canvas.height, fps=canvas.fps, duration=duration, tracks=tracks
    )
    info = {"durationSeconds": duration, "totalFrames": round(duration * canvas.fps)}
    return Expansion(timeline=timeline, info=info)


CAPTIONED_REEL = Template(name="captioned-reel", props_model=CaptionedReelProps, expand=expand_captioned_reel)
