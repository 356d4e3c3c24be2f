"""captioned-reel expands into the documented layers, timings and sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.timeline import ColorClip, Fit, ImageClip, TextClip, Timeline, VideoClip
from reelkube.engine.fonts import resolve_font
from reelkube.engine.text_layout import line_height
from reelkube.errors import SpecError
from reelkube.templates import TemplateContext, expand_template
from reelkube.templates.captioned_reel import SUBTITLE_START, TITLE_START, is_video_url

PROPS = {"title": "Golden hour", "subtitle": "Ten quiet seconds", "backgroundUrl": "assets/bg.jpg"}


def expand(props: dict, output: OutputSpec | None = None, tmp: Path = Path("/nonexistent")) -> Timeline:
    context = TemplateContext(output=output or OutputSpec(), workdir=tmp)
    return expand_template("captioned-reel", props, context).timeline


def tracks_by_name(timeline: Timeline) -> dict:
    return {track.name: track.clips for track in timeline.tracks}


def end_of(clip: object) -> float:
    """Where a clip given as start + duration seconds ends."""
    start, duration = getattr(clip, "start", None), getattr(clip, "duration", None)
    assert start is not None and duration is not None
    return float(start + duration)


def test_defaults_make_a_10s_vertical_reel_with_four_layers_in_order() -> None:
    timeline = expand(PROPS)
    assert (timeline.width, timeline.height, timeline.fps, timeline.duration) == (1080, 1920, 30.0, 10.0)
    assert [track.name for track in timeline.tracks] == ["background", "overlay", "title", "subtitle"]
    layers = tracks_by_name(timeline)

    (background,) = layers["background"]
    assert isinstance(background, ImageClip)
    assert background.src == "assets/bg.jpg"
    assert background.fit is Fit.COVER
    assert (background.start, background.duration) == (0, 10.0)
    assert background.kenBurns is not None
    assert background.kenBurns.zoomStart == 1.0 < background.kenBurns.zoomEnd

    (overlay,) = layers["overlay"]
    assert isinstance(overlay, ColorClip)
    assert (overlay.color, overlay.opacity) == ("#000000", 0.35)
    assert (overlay.start, overlay.duration) == (0, 10.0)
    assert overlay.box is None  # the tint covers the whole frame


def test_title_fades_and_slides_in_then_subtitle_fades_in_later() -> None:
    layers = tracks_by_name(expand(PROPS))
    (title,) = layers["title"]
    (subtitle,) = layers["subtitle"]
    assert isinstance(title, TextClip) and isinstance(subtitle, TextClip)
    assert title.text == "Golden hour" and title.bold
    assert title.start == TITLE_START == 0.5
    assert title.fadeIn > 0 and title.slide is not None and title.slide.distance > 0
    assert subtitle.start == SUBTITLE_START > title.start
    assert subtitle.fadeIn > 0 and subtitle.slide is None
    # Both stay to the end of the reel.
    assert end_of(title) == pytest.approx(10.0)
    assert end_of(subtitle) == pytest.approx(10.0)
    # Title above the subtitle, and larger.
    assert title.offsetY < subtitle.offsetY
    assert title.fontSize > subtitle.fontSize


def test_output_overrides_size_rate_and_text_scales_with_the_frame() -> None:
    full = tracks_by_name(expand(PROPS))
    small_timeline = expand(PROPS, OutputSpec(width=540, height=960, fps=25))
    assert (small_timeline.width, small_timeline.height, small_timeline.fps) == (540, 960, 25.0)
    small = tracks_by_name(small_timeline)
    assert small["title"][0].fontSize == pytest.approx(full["title"][0].fontSize / 2, abs=1)


def test_duration_prop_sets_every_layer_length() -> None:
    timeline = expand({**PROPS, "durationSeconds": 4})
    assert timeline.duration == 4
    for track in timeline.tracks:
        for clip in track.clips:
            assert end_of(clip) == pytest.approx(4)


@pytest.mark.parametrize(
    ("url", "video"),
    [
        ("assets/bg.mp4", True),
        ("https://cdn.example.com/loop.MOV?sig=abc", True),
        ("s3://bucket/a/b.webm", True),
        ("assets/bg.jpg", False),
        ("https://cdn.example.com/still.png?name=x.mp4", False),
        ("assets/no-extension", False),
    ],
)
def test_video_backgrounds_are_told_by_extension(url: str, video: bool) -> None:
    assert is_video_url(url) is video
    (background,) = tracks_by_name(expand({**PROPS, "backgroundUrl": url}))["background"]
    assert isinstance(background, VideoClip if video else ImageClip)
    if isinstance(background, VideoClip):
        assert background.loop and background.volume == 0 and background.fit is Fit.COVER


def test_colour_and_opacity_props_reach_the_overlay_and_zero_opacity_drops_it() -> None:
    layers = tracks_by_name(expand({**PROPS, "overlayColor": "#102030", "overlayOpacity": 0.6}))
    assert (layers["overlay"][0].color, layers["overlay"][0].opacity) == ("#102030", 0.6)
    assert "overlay" not in tracks_by_name(expand({**PROPS, "overlayOpacity": 0}))


def test_without_subtitle_the_title_is_centred_alone() -> None:
    layers = tracks_by_name(expand({"title": "Only", "backgroundUrl": "bg.png"}))
    assert "subtitle" not in layers
    (title,) = layers["title"]
    # Its line's box (the font's ascent + descent tall) is centred in the 1080x1920 frame.
    height = line_height(resolve_font(title.font, bold=True), title.fontSize)
    assert title.offsetY + height / 2 == pytest.approx(960, abs=1)


def test_a_title_that_wraps_pushes_the_subtitle_down() -> None:
    long_title = "A title long enough to wrap onto three lines"
    layers = tracks_by_name(expand({**PROPS, "title": long_title}))
    lines = layers["title"]
    assert len(lines) == 3 and " ".join(c.text for c in lines) == long_title
    (subtitle,) = layers["subtitle"]
    height = line_height(resolve_font(lines[0].font, bold=True), lines[0].fontSize)
    assert [c.offsetY for c in lines] == sorted(c.offsetY for c in lines)
    assert subtitle.offsetY >= lines[-1].offsetY + height


def test_text_too_long_for_its_box_shrinks_and_what_never_fits_is_refused() -> None:
    normal = tracks_by_name(expand(PROPS))["title"][0].fontSize
    shrunk = tracks_by_name(expand({**PROPS, "title": "word " * 39 + "end"}))["title"]
    assert shrunk[0].fontSize < normal
    with pytest.raises(SpecError, match="spec.props.title: the text does not fit its box"):
        expand({**PROPS, "title": "W" * 200, "subtitle": "W" * 400})


def test_timeline_survives_a_round_trip_through_the_api_model() -> None:
    timeline = expand(PROPS)
    assert Timeline.model_validate(timeline.model_dump(mode="json")) == timeline


@pytest.mark.parametrize(
    ("props", "path"),
    [
        ({"subtitle": "x", "backgroundUrl": "a.jpg"}, "spec.props.title"),
        ({**PROPS, "overlayColor": "red"}, "spec.props.overlayColor"),
        ({**PROPS, "overlayOpacity": 1.5}, "spec.props.overlayOpacity"),
        ({**PROPS, "durationSeconds": 1}, "spec.props.durationSeconds"),
        ({**PROPS, "backgroundURL": "a.jpg"}, "spec.props.backgroundURL"),
        ({"title": "x"}, "spec.props.backgroundUrl"),
    ],
)
def test_invalid_props_name_the_field(props: dict, path: str) -> None:
    with pytest.raises(SpecError) as caught:
        expand(props)
    assert f"{path}:" in str(caught.value)
    assert caught.value.reason == "InvalidSpec"
