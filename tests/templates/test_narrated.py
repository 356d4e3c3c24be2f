"""The narrated template: expansion, the mix (voice over ducked music, music fading out), and
the example manifest rendered end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api.output import OutputSpec
from reelkube.api.renderjob import RenderJob
from reelkube.api.timeline import AudioClip, ImageClip, SubtitlesClip, VideoClip
from reelkube.engine.probe import probe_media
from reelkube.pipeline.render_job import render_job
from reelkube.speech.narration import NarrationFiles
from reelkube.subtitles.timings import Timings
from reelkube.templates import get_template
from reelkube.templates.base import TemplateContext
from support.media import decode_mono, ffmpeg

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MUSIC_HZ = 55.0  # below the voice's range, so the mix can be split by frequency
MUSIC_AMPLITUDE = 0.5
MIX_RATE = 48_000


def band_db(samples: np.ndarray, low: float, high: float, rate: int = MIX_RATE) -> float:
    """RMS level (dBFS) of the part of `samples` between `low` and `high` Hz."""
    window = samples * np.hanning(len(samples))
    spectrum = np.fft.rfft(window)
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = (freqs >= low) & (freqs <= high)
    # Parseval, corrected for the Hann window's power (3/8).
    power = 2 * np.sum(np.abs(spectrum[band]) ** 2) / (len(samples) ** 2 * 0.375)
    return float(10 * np.log10(max(power, 1e-12)))


@pytest.fixture(scope="module")
def mixed_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Timings]:
    """A small narrated render whose music is a steady 55 Hz tone at a known level."""
    work = tmp_path_factory.mktemp("mix")
    music = work / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={MUSIC_HZ}:sample_rate=48000:duration=4",
           "-af", f"volume={MUSIC_AMPLITUDE * 8}", "-ac", "2", str(music))  # fmt: skip
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "mix"},
            "spec": {
                "template": "narrated",
                "props": {
                    "script": "The harbour wakes up slowly, one light at a time. "
                    "By seven o'clock the fishing boats are back in port.",
                    "musicUrl": str(music),
                    "musicVolume": 0.2,
                },
                # 30 fps, the template's rate: at 10 fps the engine's `-frames:v` ends the file
                # before the audio is all muxed (reported to the engine's owner).
                "output": {"width": 180, "height": 320, "preset": "ultrafast", "thumbnail": False},
            },
        }
    )
    result = render_job(job, work / "out", base_dir=work)
    return result.outputs["video"].path, Timings.read(result.outputs["timings"].path)


def test_tone_is_at_the_expected_level(tmp_path: Path) -> None:
    """The measuring tool itself: ffmpeg's sine is 1/8 full scale, so the music file's tone has
    amplitude MUSIC_AMPLITUDE, i.e. an RMS of about -9 dBFS."""
    tone = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={MUSIC_HZ}:sample_rate=48000:duration=1",
           "-af", f"volume={MUSIC_AMPLITUDE * 8}", str(tone))  # fmt: skip
    level = band_db(decode_mono(tone, MIX_RATE)[:MIX_RATE], 45, 65)
    assert abs(level - 20 * np.log10(MUSIC_AMPLITUDE / np.sqrt(2))) < 0.5


def test_voice_stands_at_least_10_db_over_the_music_while_speaking(
    mixed_render: tuple[Path, Timings],
) -> None:
    video, timings = mixed_render
    audio = decode_mono(video, MIX_RATE)
    voice_levels, music_levels = [], []
    for sentence in timings.sentences:
        start, end = sentence.words[0].start, sentence.words[-1].end
        for at in np.arange(start, end - 0.2, 0.2):
            window = audio[round(at * MIX_RATE) : round((at + 0.2) * MIX_RATE)]
            voice_levels.append(band_db(window, 90, 11000))
            music_levels.append(band_db(window, 45, 65))
    voice = 10 * np.log10(np.mean(np.power(10, np.array(voice_levels) / 10)))
    music = 10 * np.log10(np.mean(np.power(10, np.array(music_levels) / 10)))
    unducked = 20 * np.log10(0.2 * MUSIC_AMPLITUDE / np.sqrt(2))
    assert music < unducked - 3, f"music not ducked: {music:.1f} dBFS vs {unducked:.1f} unducked"
    assert voice - music >= 10, f"voice {voice:.1f} dBFS, music {music:.1f} dBFS"


def test_music_fades_to_near_silence_in_the_last_second(mixed_render: tuple[Path, Timings]) -> None:
    video, timings = mixed_render
    audio = decode_mono(video, MIX_RATE)
    last_second = audio[-MIX_RATE:]
    quarters = [band_db(last_second[i * MIX_RATE // 4 : (i + 1) * MIX_RATE // 4], 45, 65) for i in range(4)]
    # The first half of the last second may still hold the ducker's release after the last word;
    # past it the level only falls, and the last 100 ms are near silence.
    assert quarters[3] < quarters[2] - 3, quarters
    unducked = 20 * np.log10(0.2 * MUSIC_AMPLITUDE / np.sqrt(2))
    assert band_db(audio[-MIX_RATE // 10 :], 45, 65) < unducked - 25
    # The picture and sound run past the last word, so the ending is not cut off.
    duration = probe_media(video).duration
    assert duration is not None and duration >= timings.sentences[-1].end + 0.4
    assert abs(len(audio) / MIX_RATE - duration) < 0.05


def test_voiceover_and_images_expand_to_a_slideshow_with_estimated_captions(
    narration: NarrationFiles, tmp_path: Path
) -> None:
    images = []
    for number, color in enumerate(("red", "blue", "green")):
        image = tmp_path / f"slide-{number}.png"
        ffmpeg(
            "-f", "lavfi", "-i", f"color={color}:s=320x240:d=1", "-frames:v", "1", "-update", "1", str(image)
        )
        images.append(str(image))
    template = get_template("narrated")
    props = template.parse_props(
        {
            "script": "A recorded voice says this. It goes on for a while longer, then stops.",
            "voiceoverUrl": str(narration.wav),
            "images": images,
            "captionStyle": "word-highlight",
        }  # fmt: skip
    )
    expansion = template.expand(
        props, TemplateContext(output=OutputSpec(width=180, height=320), workdir=tmp_path)
    )
    timeline = expansion.timeline
    assert set(expansion.artifacts) == {"subtitles", "timings"}
    timings = Timings.read(expansion.artifacts["timings"])
    assert timings.word_timing_source == "estimated"
    assert abs(timings.duration - narration.duration) < 0.05
    clips = [clip for track in timeline.tracks for clip in track.clips]
    slides = [c for c in clips if isinstance(c, ImageClip)]
    assert [s.src for s in slides] == images
    assert timeline.duration is not None
    assert abs(slides[-1].start + slides[-1].duration - timeline.duration) < 0.01  # type: ignore[operator]
    assert all(s.transition is not None for s in slides[1:])
    voice = next(c for c in clips if isinstance(c, AudioClip) and c.id == "voice")
    assert Path(voice.src) == narration.wav
    assert any(isinstance(c, SubtitlesClip) for c in clips)
    assert not any(isinstance(c, VideoClip) for c in clips)


def test_narrated_example_renders_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reelkube.cli", "render", str(EXAMPLES / "narrated.yaml"), "-o", str(tmp_path),
         "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs: dict[str, Any] = json.loads(proc.stdout)["outputs"]
    assert {"video", "thumbnail", "voiceover", "subtitles", "timings"} <= set(outputs)
    timings = Timings.read(Path(outputs["timings"]["path"]))
    video = probe_media(Path(outputs["video"]["path"]))
    assert (video.width, video.height) == (1080, 1920) and video.has_audio
    assert video.duration is not None and abs(video.duration - (timings.duration + 0.5)) < 0.15
    assert Path(outputs["subtitles"]["path"]).read_text().count("Dialogue:") == sum(
        len(s.words) for s in timings.sentences
    )
