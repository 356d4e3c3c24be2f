"""The timeline: the declarative edit every template expands into and the engine renders.

Tracks of clips laid over time. Later tracks draw over earlier ones. Times are in seconds;
`startFrame`/`durationFrames` may be given instead where frames are more natural.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from reelkube.api.common import ApiModel, InputLocation, cel

COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
FONT_PATTERN = r"^[A-Za-z0-9 _\-]{1,64}$"


class TransitionKind(StrEnum):
    """Transitions between neighbouring clips (the common ffmpeg `xfade` kinds)."""

    FADE = "fade"
    FADEBLACK = "fadeblack"
    FADEWHITE = "fadewhite"
    DISSOLVE = "dissolve"
    WIPELEFT = "wipeleft"
    WIPERIGHT = "wiperight"
    WIPEUP = "wipeup"
    WIPEDOWN = "wipedown"
    SLIDELEFT = "slideleft"
    SLIDERIGHT = "slideright"
    SLIDEUP = "slideup"
    SLIDEDOWN = "slidedown"
    CIRCLEOPEN = "circleopen"
    CIRCLECLOSE = "circleclose"
    RADIAL = "radial"
    SMOOTHLEFT = "smoothleft"
    SMOOTHRIGHT = "smoothright"
    DISTANCE = "distance"
    PIXELIZE = "pixelize"
    ZOOMIN = "zoomin"


class Transition(ApiModel):
    """How this clip enters over the previous clip of the same track (they overlap by `duration`)."""

    type: TransitionKind = TransitionKind.FADE
    """Transition kind."""
    duration: float = Field(default=0.5, gt=0, le=10)
    """Overlap of the two clips, in seconds."""


class Timing(ApiModel):
    """When a clip plays: seconds, or frames at the timeline's rate."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("!(has(self.start) && has(self.startFrame))", "give start or startFrame, not both"),
                cel(
                    "!(has(self.duration) && has(self.durationFrames))",
                    "give duration or durationFrames, not both",
                ),
            ]
        }
    }

    start: float | None = Field(default=None, ge=0, le=86400)
    """Start time in seconds. Empty: right after the previous clip of the track (minus the
    transition's overlap)."""
    startFrame: int | None = Field(default=None, ge=0)
    """Start as a frame number at the timeline's fps."""
    duration: float | None = Field(default=None, gt=0, le=86400)
    """Length in seconds. Empty: the media's own length, or to the end of the timeline."""
    durationFrames: int | None = Field(default=None, gt=0)
    """Length in frames at the timeline's fps."""


class Fit(StrEnum):
    """How visual media fills its box."""

    COVER = "cover"
    CONTAIN = "contain"
    STRETCH = "stretch"


class KenBurns(ApiModel):
    """Slow pan and zoom over a still image."""

    zoomStart: float = Field(default=1.0, ge=1, le=4)
    """Zoom factor at the clip's start (1 = the covered frame)."""
    zoomEnd: float = Field(default=1.15, ge=1, le=4)
    """Zoom factor at the clip's end."""
    panX: float = Field(default=0.0, ge=-1, le=1)
    """Horizontal drift over the clip, as a fraction of the spare width (-1 left .. 1 right)."""
    panY: float = Field(default=0.0, ge=-1, le=1)
    """Vertical drift over the clip, as a fraction of the spare height (-1 up .. 1 down)."""


class Box(ApiModel):
    """Where a visual clip sits; empty means the whole frame."""

    # Not `x`/`y`: YAML 1.1 parsers (kubectl's among them) read a bare `y` key as `true`.
    left: int = 0
    """Left edge in pixels."""
    top: int = 0
    """Top edge in pixels."""
    width: int | None = Field(default=None, ge=1, le=7680)
    """Width in pixels (empty: frame width)."""
    height: int | None = Field(default=None, ge=1, le=7680)
    """Height in pixels (empty: frame height)."""


class VisualClip(Timing):
    """Fields shared by every clip that draws pixels."""

    transition: Transition | None = None
    """Transition from the previous clip of this track into this one."""
    fadeIn: float = Field(default=0.0, ge=0, le=60)
    """Fade in from transparent over this many seconds."""
    fadeOut: float = Field(default=0.0, ge=0, le=60)
    """Fade out to transparent over this many seconds before the clip ends."""
    opacity: float = Field(default=1.0, ge=0, le=1)
    """Opacity of the whole clip."""


class VideoClip(VisualClip):
    """A video file or URL."""

    type: Literal["video"] = "video"
    """Clip kind."""
    src: InputLocation = Field(min_length=1, max_length=4096)
    """http(s) URL, s3://bucket/key, or a path (in the cluster: relative, inside the renderer's
    asset folder; absolute paths and file:// only for `reelkube render`)."""
    trimStart: float = Field(default=0.0, ge=0)
    """Seconds skipped at the start of the source."""
    loop: bool = False
    """Loop the source to fill the clip's duration."""
    fit: Fit = Fit.COVER
    """How the video fills its box."""
    box: Box | None = None
    """Placement; empty is the whole frame."""
    volume: float = Field(default=0.0, ge=0, le=4)
    """Volume of the video's own audio (0 mutes it)."""


class ImageClip(VisualClip):
    """A still image, optionally with a Ken Burns pan/zoom."""

    type: Literal["image"] = "image"
    """Clip kind."""
    src: InputLocation = Field(min_length=1, max_length=4096)
    """http(s) URL, s3://bucket/key, or a path (in the cluster: relative, inside the renderer's
    asset folder; absolute paths and file:// only for `reelkube render`)."""
    fit: Fit = Fit.COVER
    """How the image fills its box."""
    box: Box | None = None
    """Placement; empty is the whole frame."""
    kenBurns: KenBurns | None = None
    """Slow pan and zoom."""


class ColorClip(VisualClip):
    """A solid colour, full frame or in a box (e.g. a tint over a background)."""

    type: Literal["color"] = "color"
    """Clip kind."""
    color: str = Field(default="#000000", pattern=COLOR_PATTERN)
    """Colour as #rrggbb."""
    box: Box | None = None
    """Placement; empty is the whole frame."""


class Position(StrEnum):
    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    LEFT = "left"
    RIGHT = "right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"


class SlideFrom(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    TOP = "top"
    BOTTOM = "bottom"


class Slide(ApiModel):
    """Text moves into place while it appears."""

    start: SlideFrom = SlideFrom.BOTTOM
    """Side the text comes from."""
    distance: int = Field(default=80, ge=0, le=4000)
    """Distance travelled, in pixels."""
    duration: float = Field(default=0.6, gt=0, le=10)
    """Length of the movement, in seconds."""


class TextClip(VisualClip):
    """A line or block of text. The text is data: every character renders literally."""

    type: Literal["text"] = "text"
    """Clip kind."""
    text: str = Field(min_length=1, max_length=2000)
    """The text. Newlines break lines; long lines wrap within `maxWidth`."""
    font: str = Field(default="DejaVu Sans", pattern=FONT_PATTERN)
    """Font family name as installed on the system (fontconfig), e.g. `DejaVu Sans`, `Noto Sans`."""
    bold: bool = False
    """Use the family's bold face."""
    fontSize: int = Field(default=64, ge=4, le=1000)
    """Font size in pixels."""
    color: str = Field(default="#ffffff", pattern=COLOR_PATTERN)
    """Text colour as #rrggbb."""
    position: Position = Position.CENTER
    """Anchor of the text block in the frame."""
    offsetX: int = Field(default=0, ge=-8000, le=8000)
    """Horizontal offset from the anchor, in pixels."""
    offsetY: int = Field(default=0, ge=-8000, le=8000)
    """Vertical offset from the anchor, in pixels."""
    margin: int = Field(default=60, ge=0, le=2000)
    """Distance kept from the frame's edges, in pixels."""
    maxWidth: float = Field(default=0.85, gt=0, le=1)
    """Wrap width as a fraction of the frame width."""
    lineSpacing: int = Field(default=8, ge=0, le=400)
    """Extra pixels between lines."""
    background: bool = False
    """Draw a box behind each line of text."""
    backgroundColor: str = Field(default="#000000", pattern=COLOR_PATTERN)
    """Colour of the box behind the text."""
    backgroundOpacity: float = Field(default=0.5, ge=0, le=1)
    """Opacity of the box behind the text."""
    backgroundPadding: int = Field(default=20, ge=0, le=400)
    """Padding around the text inside its box, in pixels."""
    shadow: bool = True
    """Draw a soft drop shadow for legibility."""
    slide: Slide | None = None
    """Slide into place while appearing."""


class Cue(ApiModel):
    """One subtitle cue."""

    start: float = Field(ge=0)
    """Start time in seconds."""
    end: float = Field(gt=0)
    """End time in seconds."""
    text: str = Field(min_length=1, max_length=1000)
    """Text of the cue."""


class SubtitlesClip(Timing):
    """Subtitles burned into the picture, from a file (SRT, VTT, ASS) or inline cues."""

    model_config = Timing.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("has(self.src) != has(self.cues)", "give exactly one of src or cues"),
            ]
        }
    }

    type: Literal["subtitles"] = "subtitles"
    """Clip kind."""
    src: InputLocation | None = Field(default=None, max_length=4096)
    """Subtitle file: http(s) URL, s3://bucket/key, or a path (in the cluster: relative, inside
    the renderer's asset folder)."""
    cues: list[Cue] | None = Field(default=None, max_length=5000)
    """Inline cues."""
    font: str = Field(default="DejaVu Sans", pattern=FONT_PATTERN)
    """Font family name."""
    fontSize: int = Field(default=0, ge=0, le=400)
    """Font size in pixels; 0 picks one from the frame height."""
    color: str = Field(default="#ffffff", pattern=COLOR_PATTERN)
    """Text colour."""
    highlightColor: str = Field(default="#ffd400", pattern=COLOR_PATTERN)
    """Colour of the active word in word-highlight captions."""
    outlineColor: str = Field(default="#000000", pattern=COLOR_PATTERN)
    """Outline colour."""
    marginV: int = Field(default=0, ge=0, le=4000)
    """Bottom margin in pixels; 0 picks a safe margin from the frame height."""


class AudioClip(Timing):
    """An audio file or URL mixed into the soundtrack."""

    type: Literal["audio"] = "audio"
    """Clip kind."""
    src: InputLocation = Field(min_length=1, max_length=4096)
    """http(s) URL, s3://bucket/key, or a path (in the cluster: relative, inside the renderer's
    asset folder; absolute paths and file:// only for `reelkube render`)."""
    volume: float = Field(default=1.0, ge=0, le=4)
    """Linear gain (1 = unchanged)."""
    trimStart: float = Field(default=0.0, ge=0)
    """Seconds skipped at the start of the source."""
    fadeIn: float = Field(default=0.0, ge=0, le=60)
    """Fade in over this many seconds."""
    fadeOut: float = Field(default=0.0, ge=0, le=60)
    """Fade out over this many seconds before the clip (or timeline) ends."""
    loop: bool = False
    """Loop the source to fill the clip's duration."""
    duckUnder: str | None = Field(default=None, max_length=63)
    """Name of another audio clip (its `id`): this clip is ducked while that one is loud."""
    id: str | None = Field(default=None, max_length=63, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    """Name for references such as `duckUnder`."""


Clip = Annotated[
    VideoClip | ImageClip | ColorClip | TextClip | SubtitlesClip | AudioClip,
    Field(discriminator="type"),
]


class Track(ApiModel):
    """A layer of clips. Later tracks draw over earlier tracks."""

    name: str | None = Field(default=None, max_length=63)
    """Optional name, for readability."""
    clips: list[Clip] = Field(min_length=1, max_length=1000)
    """Clips in time order."""


class Timeline(ApiModel):
    """A complete edit: canvas, tracks of clips, and an overall duration."""

    width: int = Field(default=1920, ge=16, le=7680)
    """Canvas width in pixels."""
    height: int = Field(default=1080, ge=16, le=7680)
    """Canvas height in pixels."""
    fps: float = Field(default=30.0, gt=0, le=120)
    """Frames per second."""
    duration: float | None = Field(default=None, gt=0, le=86400)
    """Total length in seconds; empty means the end of the last clip."""
    background: str = Field(default="#000000", pattern=COLOR_PATTERN)
    """Canvas colour under every track."""
    tracks: list[Track] = Field(min_length=1, max_length=64)
    """Layers, bottom first."""
