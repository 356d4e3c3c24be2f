"""A scene with its own recorded voice-over (`scenes[].voiceoverUrl`): played instead of
synthesized speech, its length sets the scene's, its narration is captioned over it; the timing
rules without rendering, then a real render with Piper for one scene and a recording for the other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reelkube.api.renderjob import RenderJob
from reelkube.errors import InputUnreadable
from reelkube.scenes.splitting import SceneDraft
from reelkube.scenes.timing import LEAD_IN, SpeechSpan, lay_out, with_recorded
from reelkube.subtitles.timings import Timings
from support.media import decode_mono, ffmpeg

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TONE_HZ = 660
RECORDED_SECONDS = 2.5


def test_a_recording_sets_its_scenes_length_and_plays_from_its_first_frame() -> None:
    drafts = [
        SceneDraft(index=0, sentences=("Spoken by the voice.",)),
        SceneDraft(index=1, sentences=("Recorded.",), voiceover="a.wav"),
        SceneDraft(index=2, sentences=(), voiceover="b.wav", min_duration=4.0),
    ]
    spans = [
        SpeechSpan(0.0, 1.2, (0,)),
        SpeechSpan(0.0, 0.0, (), recorded=RECORDED_SECONDS),
        SpeechSpan(0.0, 0.0, (), recorded=1.0),
    ]
    slots = lay_out(drafts, spans, offset=2.0)
    assert slots[0].speech_at == 2.0 + LEAD_IN
    assert (slots[1].start, slots[1].end, slots[1].speech_at) == (
        slots[0].end,
        slots[0].end + 2.5,
        slots[0].end,
    )
    assert slots[2].duration == 4.0  # a longer `duration` override still wins
    # The recorded scene's narration is spread over its recording, after the spoken one.
    timings = with_recorded(
        Timings(sample_rate=22050, total_samples=0, sentence_silence=0.2, sentences=[]), drafts, slots
    )
    (recorded,) = timings.sentences
    assert recorded.index == 0 and recorded.word_timing_source == "estimated"
    assert recorded.start == pytest.approx(slots[1].start) and recorded.end == pytest.approx(slots[1].end)
    assert recorded.start_sample == round(slots[1].start * 22050)


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2.5 s recording: a 660 Hz tone, loud enough to be normalized like speech."""
    path = tmp_path_factory.mktemp("voiceover") / "recorded.wav"
    ffmpeg(
        "-f", "lavfi", "-i", f"sine=f={TONE_HZ}:d={RECORDED_SECONDS}:sample_rate=44100", "-ac", "2", str(path)
    )
    return path


def job_with(recording: str) -> RenderJob:
    return RenderJob.model_validate(
        {
            "metadata": {"name": "clips"},
            "spec": {
                "template": "explainer",
                "props": {
                    "title": None,
                    "outro": None,
                    "scenes": [
                        {"narration": "The ocean makes half of the oxygen we breathe."},
                        {"narration": "Snow falls on the peaks all winter.", "voiceoverUrl": recording},
                    ],
                    "library": {"indexUrl": "assets/library/index.yaml"},
                },
                "output": {"width": 320, "height": 180, "fps": 15, "preset": "ultrafast"},
            },
        }
    )


@pytest.mark.slow
def test_a_scene_plays_its_recording_instead_of_synthesized_speech(tone: Path, tmp_path: Path) -> None:
    from reelkube.pipeline.render_job import render_job

    result = render_job(job_with(str(tone)), tmp_path, base_dir=EXAMPLES)
    storyboard = json.loads((tmp_path / "storyboard.json").read_text())
    spoken, recorded = storyboard["scenes"]
    assert recorded["end"] - recorded["start"] == pytest.approx(RECORDED_SECONDS, abs=0.01)
    assert recorded["speechStart"] == recorded["start"]
    assert storyboard["wordTimingSource"] == "estimated"
    timings = json.loads(Path(result.outputs["timings"].path).read_text())
    texts = [s["text"] for s in timings["sentences"]]
    assert texts == ["The ocean makes half of the oxygen we breathe.", "Snow falls on the peaks all winter."]
    last = timings["sentences"][1]
    assert last["wordTimingSource"] == "estimated"
    assert (
        recorded["start"] <= last["words"][0]["start"] and last["words"][-1]["end"] <= recorded["end"] + 1e-6
    )
    # What is heard over the second scene is the recording (its 660 Hz tone), and over the
    # first the synthesized voice (no such tone).
    rate = 16000
    audio = decode_mono(Path(result.outputs["video"].path), rate)

    def dominant(start: float, end: float) -> float:
        piece = audio[round(start * rate) : round(end * rate)]
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
        return float(np.fft.rfftfreq(len(piece), 1 / rate)[int(np.argmax(spectrum))])

    assert dominant(recorded["start"] + 0.3, recorded["end"] - 0.3) == pytest.approx(TONE_HZ, abs=5)
    assert abs(dominant(spoken["start"] + 0.3, spoken["end"] - 0.3) - TONE_HZ) > 20
    assert result.outputs["video"].duration == pytest.approx(storyboard["duration"], abs=0.15)


@pytest.mark.slow
def test_a_recording_without_audio_is_refused_clearly(tmp_path: Path) -> None:
    from reelkube.pipeline.render_job import render_job

    silent = tmp_path / "picture.png"
    ffmpeg("-f", "lavfi", "-i", "color=red:s=16x16", "-frames:v", "1", str(silent))
    with pytest.raises(InputUnreadable) as caught:
        render_job(job_with(str(silent)), tmp_path / "out", base_dir=EXAMPLES)
    assert caught.value.message.startswith("spec.props.scenes[1].voiceoverUrl: ")
    assert "no audio stream" in caught.value.message
