"""slideshow: frame-exact placement of images, transitions, title and music."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.timeline import AudioClip, Fit, ImageClip, TextClip, TransitionKind
from reelkube.errors import SpecError
from reelkube.templates import Expansion, TemplateContext, expand_template
from reelkube.templates.slideshow import total_frames

IMAGES = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]


def expand(props: dict, output: OutputSpec | None = None) -> Expansion:
    context = TemplateContext(output=output or OutputSpec(), workdir=Path("/nonexistent"))
    return expand_template("slideshow", props, context)


def layer(expansion: Expansion, name: str) -> list:
    return next(track.clips for track in expansion.timeline.tracks if track.name == name)


def test_images_overlap_by_the_transition_and_total_is_n_d_minus_overlaps() -> None:
    expansion = expand({"images": IMAGES})
    timeline = expansion.timeline
    assert (timeline.width, timeline.height, timeline.fps) == (1920, 1080, 30.0)
    slides = layer(expansion, "slides")
    assert [clip.src for clip in slides] == IMAGES
    for index, clip in enumerate(slides):
        assert isinstance(clip, ImageClip) and clip.fit is Fit.COVER
        assert clip.startFrame == index * (90 - 15)
        assert clip.durationFrames == 90
        if index == 0:
            assert clip.transition is None
        else:
            assert clip.transition is not None
            assert clip.transition.type is TransitionKind.FADE
            assert clip.transition.duration == pytest.approx(15 / 30)
            # Each image enters exactly when the previous one has `transition` frames left.
            previous = slides[index - 1]
            assert clip.startFrame == previous.startFrame + previous.durationFrames - 15
    frames = 4 * 90 - 3 * 15
    assert expansion.info == {"durationSeconds": frames / 30, "totalFrames": frames, "images": 4}
    assert timeline.duration is not None
    assert timeline.duration * timeline.fps == pytest.approx(frames)
    assert slides[-1].startFrame + slides[-1].durationFrames == frames


@pytest.mark.parametrize(
    ("count", "per_image", "transition", "expected"),
    [(1, 90, 15, 90), (2, 90, 15, 165), (5, 60, 0, 300), (3, 30, 29, 32)],
)
def test_total_frames(count: int, per_image: int, transition: int, expected: int) -> None:
    assert total_frames(count, per_image, transition) == expected
    info = expand(
        {"images": IMAGES[:1] * count, "durationPerImage": per_image, "transitionDuration": transition}
    )
    assert info.info["totalFrames"] == expected


def test_zero_transition_gives_hard_cuts() -> None:
    slides = layer(expand({"images": IMAGES[:3], "transitionDuration": 0}), "slides")
    assert [clip.startFrame for clip in slides] == [0, 90, 180]
    assert all(clip.transition is None for clip in slides)


def test_transition_seconds_follow_the_output_rate() -> None:
    expansion = expand({"images": IMAGES[:2]}, OutputSpec(fps=25, width=640, height=360))
    assert expansion.timeline.fps == 25 and expansion.timeline.width == 640
    assert layer(expansion, "slides")[1].transition.duration == pytest.approx(15 / 25)
    assert expansion.info["durationSeconds"] == pytest.approx(165 / 25)


def test_title_shows_over_the_first_image_until_its_transition() -> None:
    expansion = expand({"images": IMAGES, "title": "Summer"})
    (title,) = layer(expansion, "title")
    assert isinstance(title, TextClip) and title.text == "Summer"
    assert (title.startFrame, title.durationFrames) == (0, 90 - 15)
    assert title.fadeIn > 0 and title.fadeOut > 0
    names = [track.name for track in expansion.timeline.tracks]
    assert names.index("title") > names.index("slides")  # drawn over the images


def test_title_hidden_when_switched_off_or_missing() -> None:
    off = expand({"images": IMAGES, "title": "Summer", "showTitle": False})
    missing = expand({"images": IMAGES})
    for expansion in (off, missing):
        assert "title" not in [track.name for track in expansion.timeline.tracks]


def test_music_runs_the_whole_show_and_fades_out_at_the_end() -> None:
    expansion = expand({"images": IMAGES, "musicUrl": "music.m4a"})
    (music,) = layer(expansion, "music")
    assert isinstance(music, AudioClip) and music.src == "music.m4a"
    assert music.start == 0 and music.duration == pytest.approx(expansion.info["durationSeconds"])
    assert music.loop and music.fadeOut == 2.0
    # A very short show fades over half of it at most.
    (short,) = layer(
        expand({"images": ["a.jpg"], "durationPerImage": 30, "musicUrl": "m.mp3", "transitionDuration": 0}),
        "music",
    )
    assert short.fadeOut == pytest.approx(0.5)
    assert "music" not in [track.name for track in expand({"images": IMAGES}).timeline.tracks]


@pytest.mark.parametrize(
    ("props", "path"),
    [
        ({"images": []}, "spec.props.images:"),
        ({"images": ["a.jpg", 3]}, "spec.props.images[1]:"),
        ({"images": ["a.jpg", " "]}, "spec.props.images:"),
        ({"images": IMAGES, "transitionDuration": 90}, "spec.props.transitionDuration:"),
        ({"images": IMAGES, "durationPerImage": 10}, "spec.props.transitionDuration:"),
        ({"images": IMAGES, "durationPerImage": 0}, "spec.props.durationPerImage:"),
        ({"images": IMAGES, "durationPerImage": 1.5}, "spec.props.durationPerImage:"),
        ({"images": IMAGES, "music": "x.mp3"}, "spec.props.music:"),
        ({}, "spec.props.images:"),
    ],
)
def test_invalid_props_name_the_field(props: dict, path: str) -> None:
    with pytest.raises(SpecError) as caught:
        expand(props)
    assert path in str(caught.value)
