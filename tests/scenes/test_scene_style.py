"""The style every scene-based format shares (`Style` in scenes/brief.py, documented there once):
brand colours, the font, the logo as a corner watermark, the caption style, and music ducked
under the voice. Each of the five formats is expanded with one style and its timeline checked;
one explainer is rendered for real (small, a few seconds) to see the logo in its corner on every
card and scene, and to measure the music ducked while the voice speaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.renderjob import RenderJob
from reelkube.api.timeline import ColorClip, ImageClip, SubtitlesClip, TextClip, Timeline, Track
from reelkube.engine.ass import ass_override_color
from reelkube.pipeline.render_job import render_job
from reelkube.scenes.library import fallback_palette
from reelkube.templates import get_template
from reelkube.templates.base import TemplateContext
from support.media import decode_mono, ffmpeg, frames_at

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FPS = 15
MUSIC_HZ = 55.0
"""Below the voice's range, so the mix can be split by frequency."""
MIX_RATE = 48_000
LOGO_RGB = (0, 255, 0)
SENTENCE = "The ocean makes half of the oxygen we breathe."
STYLE: dict[str, Any] = {
    "primaryColor": "#1f3a5f",
    "accentColor": "#00e5ff",
    "textColor": "#fff8e1",
    "font": "DejaVu Serif",
    "musicVolume": 0.2,
}
BRIEFS: dict[str, dict[str, Any]] = {
    "explainer": {"title": "Breathing", "script": SENTENCE},
    "listicle": {"title": "One thing", "items": [{"title": "The ocean", "narration": SENTENCE}]},
    "comparison": {
        "a": {"name": "Desert"},
        "b": {"name": "Ocean"},
        "rows": [{"attribute": "Heat", "a": "Hot", "b": "Mild"}],
        "verdict": {"text": "Ocean wins"},
    },
    "shorts": {"hook": "Breathe", "script": SENTENCE},
    "sentences": {"sentences": [{"text": SENTENCE}]},
}
PORTRAIT = {"shorts", "sentences"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A green square logo and six seconds of a steady 55 Hz tone as music."""
    folder = tmp_path_factory.mktemp("style-media")
    logo, music = folder / "logo.png", folder / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x00ff00:s=64x64", "-frames:v", "1", str(logo))
    # ffmpeg's sine is 1/8 of full scale: amplitude 0.5.
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={MUSIC_HZ}:sample_rate={MIX_RATE}:duration=6",
           "-af", "volume=4", str(music))  # fmt: skip
    return {"logo": logo, "music": music}


def style(media: dict[str, Path]) -> dict[str, Any]:
    return STYLE | {"logoUrl": str(media["logo"]), "musicUrl": str(media["music"])}


def clips_of(timeline: Timeline, name: str) -> list[Any]:
    tracks: list[Track] = [t for t in timeline.tracks if t.name == name]
    return [clip for track in tracks for clip in track.clips]


@pytest.mark.parametrize("name", sorted(BRIEFS))
def test_every_format_takes_the_shared_style(name: str, media: dict[str, Path], tmp_path: Path) -> None:
    width, height = (180, 320) if name in PORTRAIT else (320, 180)
    template = get_template(name)
    props = template.parse_props(
        BRIEFS[name] | {"library": {"indexUrl": "assets/library/index.yaml"}, "style": style(media)}
    )
    output = OutputSpec.model_validate({"width": width, "height": height, "fps": FPS})
    context = TemplateContext(output=output, workdir=tmp_path, base_dir=EXAMPLES)
    timeline = template.expand(props, context).timeline
    total = timeline.duration
    assert total is not None and total > 0
    # The logo: one clip over the whole video, contained in a small box in the top-right corner.
    [logo] = clips_of(timeline, "watermark")
    assert isinstance(logo, ImageClip) and logo.src == str(media["logo"]) and logo.box is not None
    assert (logo.start, logo.duration) == (0, total)
    box = logo.box
    assert box.left >= width * 0.75 and box.left + box.width <= width and box.top + box.height <= height * 0.2
    # The music: under the whole video, looped, at the brief's volume, ducked under the voice.
    [voice] = clips_of(timeline, "voice")
    [music] = clips_of(timeline, "music")
    assert music.src == str(media["music"]) and music.loop and music.volume == STYLE["musicVolume"]
    assert music.duckUnder == voice.id and music.duration == total
    # Brand colours: every designed card and fallback is the brand colour or one of its shades.
    brand = {STYLE["primaryColor"], *fallback_palette(STYLE["primaryColor"])}
    colours = {c.color for c in clips_of(timeline, "pictures") if isinstance(c, ColorClip)}
    assert colours <= brand, colours
    # The font on every text clip, and the text colour on those not drawn on an accent box.
    texts = [c for t in timeline.tracks for c in t.clips if isinstance(c, TextClip)]
    assert {c.font for c in texts} <= {STYLE["font"]}
    if name != "sentences":  # the only format without cards or titles (its one scene has a picture)
        assert colours and texts and STYLE["textColor"] in {c.color for c in texts}
    # The captions: word by word in the brief's font, the spoken word in the accent colour.
    [captions] = clips_of(timeline, "captions")
    assert isinstance(captions, SubtitlesClip)
    ass = Path(captions.src).read_text()
    assert f"Style: Default,{STYLE['font']}," in ass
    events = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    highlight = "\\1c" + ass_override_color(STYLE["accentColor"])
    assert len(events) >= len(SENTENCE.split()) and all(e.count(highlight) == 1 for e in events)
    # Short-form captions (shorts, sentences) enlarge the spoken word too, and only that word.
    emphasised = highlight + "\\fscx120\\fscy120}"
    if name in ("shorts", "sentences"):
        assert all(e.count(emphasised) == 1 and e.count("\\fscx120") == 1 for e in events)
    else:
        assert "\\fscx" not in ass


@pytest.fixture(scope="module")
def rendered(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An explainer with the logo and the tone as music: (video, storyboard)."""
    out = tmp_path_factory.mktemp("style-render")
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "style"},
            "spec": {
                "template": "explainer",
                "props": BRIEFS["explainer"]
                | {
                    "outro": "The end",
                    "library": {"indexUrl": "assets/library/index.yaml"},
                    "style": style(media),
                },
                "output": {"width": 320, "height": 180, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )
    result = render_job(job, out, base_dir=EXAMPLES)
    return Path(result.outputs["video"].path), json.loads(Path(result.outputs["storyboard"].path).read_text())


def test_the_logo_is_in_the_top_right_corner_of_every_card_and_scene(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    video, storyboard = rendered
    parts = storyboard["cards"] + storyboard["scenes"]
    assert len(parts) == 3
    middles = [round((p["start"] + p["end"]) / 2 * FPS) for p in parts]
    frames = frames_at(video, middles)
    # The logo's box: 10% of the short side (18 px), 3% (5 px) from the top and right edges.
    side, margin = 18, 5
    for number in middles:
        frame = frames[number].astype(float)
        logo = frame[margin + 3 : margin + side - 3, 320 - margin - side + 3 : 320 - margin - 3]
        red, green, blue = logo.reshape(-1, 3).mean(axis=0)
        assert green > red + 100 and green > blue + 100, (number, red, green, blue)
        # Only there: the top-left corner shows no logo.
        other = (
            frame[margin + 3 : margin + side - 3, margin + 3 : margin + side - 3].reshape(-1, 3).mean(axis=0)
        )
        assert not (other[1] > other[0] + 100 and other[1] > other[2] + 100), (number, other)


def band_db(samples: np.ndarray, low: float, high: float) -> float:
    """RMS level (dBFS) of the part of `samples` between `low` and `high` Hz (Hann window)."""
    spectrum = np.fft.rfft(samples * np.hanning(len(samples)))
    freqs = np.fft.rfftfreq(len(samples), 1 / MIX_RATE)
    band = (freqs >= low) & (freqs <= high)
    power = 2 * np.sum(np.abs(spectrum[band]) ** 2) / (len(samples) ** 2 * 0.375)
    return float(10 * np.log10(max(power, 1e-12)))


def test_the_music_is_ducked_while_the_voice_speaks(rendered: tuple[Path, dict[str, Any]]) -> None:
    video, storyboard = rendered
    audio = decode_mono(video, MIX_RATE)
    [title] = [c for c in storyboard["cards"] if c["kind"] == "title"]
    [scene] = storyboard["scenes"]

    def music_db(start: float, end: float) -> float:
        return band_db(audio[round(start * MIX_RATE) : round(end * MIX_RATE)], 45, 65)

    # Over the title card nothing is said: the music plays at its volume (after its fade-in).
    alone = music_db(0.8, title["end"] - 0.2)
    expected = 20 * np.log10(STYLE["musicVolume"] * 0.5 / np.sqrt(2))
    assert abs(alone - expected) < 2, (alone, expected)
    # While the voice speaks (past the ducker's attack) it is pushed down.
    speaking = music_db(scene["speechStart"] + 0.3, scene["end"] - 0.5)
    assert speaking < alone - 3, (speaking, alone)
