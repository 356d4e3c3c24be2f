"""The API models of a brief: what scene-based templates take as props.

A brief is either a `script` (free text, split into scenes) or a list of `scenes`. Visuals are a
URL, a query against the asset library, or none. Style (colours, font, logo, captions, music) is
shared by every format and documented once, here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from reelkube.api.common import ApiModel
from reelkube.api.timeline import COLOR_PATTERN, FONT_PATTERN, TransitionKind
from reelkube.api.ttsjob import VoiceSpec

MAX_SCRIPT_CHARS = 20_000
MAX_SCENES = 200


class Orientation(StrEnum):
    """The shape of an asset's picture."""

    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"
    SQUARE = "square"


class AssetKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class LibraryAsset(ApiModel):
    """One asset of a library: a picture or clip with words that say what it shows."""

    id: str = Field(min_length=1, max_length=128)
    """Unique name within the library (the storyboard reports it)."""
    src: str = Field(min_length=1, max_length=4096)
    """Path (relative to the manifest, or to the index file when the library comes from one),
    http(s) URL or s3:// URI."""
    kind: AssetKind = AssetKind.IMAGE
    """image or video."""
    tags: list[str] = Field(default_factory=list, max_length=64)
    """Words the asset is found by (weighted above the description)."""
    description: str = Field(default="", max_length=1000)
    """A sentence about what the asset shows."""
    orientation: Orientation = Orientation.LANDSCAPE
    """Shape of the picture: preferred when it matches the output's."""
    attribution: str | None = Field(default=None, max_length=500)
    """Credit line kept in the storyboard (author, licence, source)."""


class AssetLibrary(ApiModel):
    """Assets to choose scene visuals from: listed inline, or an index file (JSON or YAML with an
    `assets` list) at a path, URL or s3:// URI; both may be given."""

    assets: list[LibraryAsset] = Field(default_factory=list, max_length=5000)
    """Inline assets."""
    indexUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """An index file; relative `src`s in it are relative to the index's location."""


class Visual(ApiModel):
    """A scene's picture: a URL as given, a query against the asset library, or none (a designed
    card with the scene's text)."""

    url: str | None = Field(default=None, min_length=1, max_length=4096)
    """Image or video to show (path relative to the manifest, http(s) URL or s3://)."""
    query: str | None = Field(default=None, min_length=1, max_length=500)
    """Words matched against the asset library's tags and descriptions."""
    kind: AssetKind | None = None
    """Kind of `url` when its extension does not tell."""

    @model_validator(mode="after")
    def _one_source(self) -> Visual:
        if self.url and self.query:
            raise ValueError("give url or query, not both")
        return self


class OnScreenText(ApiModel):
    """Text drawn over a scene."""

    heading: str | None = Field(default=None, min_length=1, max_length=200)
    """Heading (the explainer's lower third, the listicle's item title)."""
    bullet: str | None = Field(default=None, min_length=1, max_length=300)
    """A supporting line under the heading."""
    number: int | None = Field(default=None, ge=0, le=9999)
    """A number badge at the top left (the listicle's count)."""
    label: str | None = Field(default=None, min_length=1, max_length=100)
    """A small tag at the top right, in the accent colour (under the logo when there is one)."""


class SceneSpec(ApiModel):
    """One scene of an explicit list."""

    narration: str | None = Field(default=None, min_length=1, max_length=4000)
    """What the voice says over the scene. Empty: a silent scene (give `duration`), or one that
    plays `voiceoverUrl`. With `voiceoverUrl`, it is not synthesized: it is captioned over the
    recording (word timings estimated)."""
    voiceoverUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """A recorded voice-over for this scene (audio file: path relative to the manifest, http(s)
    URL or s3://), played instead of synthesizing `narration`; the scene lasts as long as the
    recording (at least `duration`)."""
    text: OnScreenText = Field(default_factory=OnScreenText)
    """On-screen text."""
    visual: Visual | None = None
    """The picture; empty: a query made from the narration's words."""
    duration: float | None = Field(default=None, gt=0, le=600)
    """At least this many seconds (a scene never cuts its narration short)."""
    layout: str | None = Field(default=None, max_length=32, pattern=r"^[a-z][a-z0-9\-]*$")
    """Format-specific layout name (e.g. `card` to force the designed card)."""
    transition: TransitionKind | None = None
    """Transition into this scene (default: a cut)."""


class Style(ApiModel):
    """Look shared by every scene-based format."""

    primaryColor: str = Field(default="#1f3a5f", pattern=COLOR_PATTERN)
    """Brand colour: title, outro and fallback cards, the lower third."""
    accentColor: str = Field(default="#ffd400", pattern=COLOR_PATTERN)
    """Highlight colour: the spoken word, number badges, the progress bar."""
    textColor: str = Field(default="#ffffff", pattern=COLOR_PATTERN)
    """Colour of on-screen text."""
    font: str = Field(default="DejaVu Sans", pattern=FONT_PATTERN)
    """Font family (fontconfig name)."""
    logoUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Logo drawn as a corner watermark."""
    captions: bool = True
    """Burn in captions that follow the voice word by word."""
    musicUrl: str | None = Field(default=None, min_length=1, max_length=4096)
    """Music under the whole video, ducked while the voice speaks."""
    musicVolume: float = Field(default=0.15, ge=0, le=1)
    """Music gain (linear)."""
    tintOpacity: float = Field(default=0.3, ge=0, le=1)
    """Darkening over pictures so text stays readable."""


class StockProviderName(StrEnum):
    PEXELS = "pexels"


class StockMediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class StockSize(StrEnum):
    """Pexels' minimum-size filter."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class StockSpec(ApiModel):
    """Stock media for queries the asset library cannot answer."""

    provider: StockProviderName = StockProviderName.PEXELS
    """The provider (the installation must enable it with an API key)."""
    media: StockMediaKind = StockMediaKind.PHOTO
    """Search photos or videos."""
    size: StockSize = StockSize.MEDIUM
    """Smallest size accepted."""
    results: int = Field(default=8, ge=1, le=80)
    """Candidates asked for per query."""


class BriefCommon(ApiModel):
    """Fields every scene-based template takes, whatever shape its scenes come in."""

    library: AssetLibrary = Field(default_factory=AssetLibrary)
    """Assets that scene queries are matched against."""
    stock: StockSpec | None = None
    """Stock media (Pexels) for queries the library cannot answer; the installation must enable
    it. Empty: no stock search."""
    voice: VoiceSpec = Field(default_factory=VoiceSpec)
    """Piper voice for the narration."""
    loudnessLufs: float = Field(default=-16.0, ge=-40, le=-5)
    """Loudness of the narration (EBU R128)."""
    style: Style = Field(default_factory=Style)
    """Colours, font, logo, captions and music."""
    orientation: Orientation | None = None
    """landscape (16:9) or portrait (9:16); empty: the format's default. `output.width/height`
    take precedence."""


class BriefFields(BriefCommon):
    """A brief as a script or a list of scenes (explainer, shorts)."""

    script: str | None = Field(default=None, min_length=1, max_length=MAX_SCRIPT_CHARS)
    """Free text: paragraphs become sections, sentences become scenes (very short sentences merged,
    very long ones split)."""
    scenes: list[SceneSpec] | None = Field(default=None, min_length=1, max_length=MAX_SCENES)
    """Explicit scenes, instead of a script."""

    @model_validator(mode="after")
    def _script_or_scenes(self) -> BriefFields:
        if (self.script is None) == (self.scenes is None):
            raise ValueError("give exactly one of script or scenes")
        return self
