"""Piper synthesis: sentences -> one track of samples plus sentence and word timings.

Each sentence is synthesized on its own (Piper may split it further, e.g. after "Mr."; its
chunks are joined) and followed by `sentenceSilence` seconds of silence. Every timing comes
from sample counts, so the timings match the track exactly.

Piper's memory grows with the phonemes of one call (about 1 MB per phoneme over the loaded
voice, measured: 345 phonemes peaked at 618 MB, 710 at 1,007 MB, 1,343 at 1,769 MB), so no call
gets more than MAX_PHONEMES_PER_CALL phonemes: a sentence over it is synthesized in runs of
words cut at clause punctuation, else between words (`script.split_to_fit`), and a single word
over it in runs of characters. The runs' audio is joined without a pause and each run's word
timings are shifted by its offset, so the sentence's timings stay whole.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reelkube.api.ttsjob import VoiceSpec
from reelkube.errors import RenderFailed, SpecError
from reelkube.speech.script import sentence_words, split_to_fit
from reelkube.speech.voice import LoadedVoice
from reelkube.speech.word_timing import align_words, estimate_words, sounding_phonemes, sounds_of, voiced_span
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming, WordTimingSource

log = logging.getLogger(__name__)

MAX_PHONEMES_PER_CALL = 300
"""Most phonemes given to one Piper call: about 20 seconds of speech and under 300 MB over the
loaded voice; an ordinary 20-word sentence has about 120, so only text bombs are cut."""

SentenceCallback = Callable[[int, int], None]
"""Called with (sentences done, sentences in all) after each sentence."""


@dataclass(frozen=True)
class Narration:
    """The synthesized track (mono float32 in [-1, 1]) and its timings."""

    samples: np.ndarray
    timings: Timings
    synthesis_seconds: float
    """Wall time spent in Piper (for the real-time factor)."""

    @property
    def sample_rate(self) -> int:
        return self.timings.sample_rate


def synthesize_narration(
    voice: LoadedVoice,
    sentences: Sequence[str],
    spec: VoiceSpec,
    on_sentence: SentenceCallback | None = None,
) -> Narration:
    """Synthesize `sentences` with `voice` as one track, with timings from sample counts."""
    from piper import SynthesisConfig

    piper: Any = voice.piper
    speakers = int(piper.config.num_speakers)
    if spec.speakerId is not None and spec.speakerId >= max(speakers, 1):
        raise SpecError(f"voice.speakerId {spec.speakerId}: this voice has {speakers} speaker(s)")
    config = SynthesisConfig(speaker_id=spec.speakerId, length_scale=spec.lengthScale, volume=spec.volume)
    rate = voice.sample_rate
    silence = np.zeros(round(spec.sentenceSilence * rate), dtype=np.float32)
    word_sounds: dict[str, list[str]] = {}

    def sounds_of_word(word: str) -> list[str]:
        if word not in word_sounds:
            word_sounds[word] = sounds_of(piper.phonemize(word))
        return word_sounds[word]

    timings: list[SentenceTiming] = []
    cursor = 0
    started = time.monotonic()
    # The track goes to a scratch file as it grows, so only one copy of it is ever in memory
    # (a list of pieces joined at the end held two: 235 MB more for 45 minutes of speech).
    with tempfile.TemporaryFile() as track:
        for index, sentence in enumerate(sentences):
            try:
                audio, words, spans, source = _synthesize_sentence(
                    piper, sentence, config, voice.has_alignments, sounds_of_word
                )
            except Exception as error:  # onnxruntime/espeak failures are not the user's to fix
                raise RenderFailed(f"piper failed on sentence {index + 1}: {error}") from error
            timings.append(
                SentenceTiming(
                    index=index,
                    text=sentence,
                    start=cursor / rate,
                    end=(cursor + len(audio)) / rate,
                    start_sample=cursor,
                    end_sample=cursor + len(audio),
                    words=[
                        WordTiming(word, (cursor + start) / rate, (cursor + end) / rate)
                        for word, (start, end) in zip(words, spans, strict=True)
                    ],
                    word_timing_source=source,
                )
            )
            track.write(audio.astype("<f4").tobytes())
            track.write(silence.astype("<f4").tobytes())
            cursor += len(audio) + len(silence)
            if on_sentence is not None:
                on_sentence(index + 1, len(sentences))
        elapsed = time.monotonic() - started
        track.flush()
        track.seek(0)
        samples = np.fromfile(track, dtype="<f4").astype(np.float32, copy=False)
    log.info(
        "event=narration_synthesized sentences=%d seconds=%.3f synthesis_seconds=%.3f",
        len(sentences),
        len(samples) / rate,
        elapsed,
    )
    return Narration(
        samples=samples,
        timings=Timings(
            sample_rate=rate,
            total_samples=len(samples),
            sentence_silence=spec.sentenceSilence,
            sentences=timings,
        ),
        synthesis_seconds=elapsed,
    )


def _synthesize_sentence(
    piper: Any,
    sentence: str,
    config: Any,
    alignments: bool,
    sounds_of_word: Callable[[str], list[str]],
) -> tuple[np.ndarray, list[str], list[tuple[int, int]], WordTimingSource]:
    """A sentence's audio, words and word spans (samples from its start), in Piper calls of at most
    MAX_PHONEMES_PER_CALL phonemes each."""

    def fits(tokens: Sequence[str]) -> bool:
        return phoneme_count(piper, " ".join(tokens)) <= MAX_PHONEMES_PER_CALL

    pieces: list[np.ndarray] = []
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    sources: set[WordTimingSource] = set()
    offset = 0
    for run in split_to_fit(sentence.split(), fits):
        text = " ".join(run)
        run_words = sentence_words(text)
        if len(run) == 1 and not fits(run):
            # One word over the bound (a long token of symbols or of a script the voice spells
            # out letter by letter): synthesized in runs of characters, timed as one span.
            audio = np.concatenate(
                [_audio_of(piper.synthesize(part, config)) for part in _character_runs(piper, text)]
            )
            run_spans = estimate_words(run_words, 0, len(audio))
            source: WordTimingSource = "estimated"
        else:
            chunks = list(piper.synthesize(text, config, include_alignments=alignments))
            audio = _audio_of(chunks)
            run_spans, source = _word_spans(chunks, run_words, len(audio), sounds_of_word)
        pieces.append(audio)
        words.extend(run_words)
        spans.extend((offset + start, offset + end) for start, end in run_spans)
        sources.add(source)
        offset += len(audio)
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    whole = sentence_words(sentence)
    if words != whole:
        # Symbols cut at their middle (nothing spoken to cut before) read as one word in the
        # sentence but one per run: spread the sentence's own words over the whole track.
        return samples, whole, estimate_words(whole, 0, len(samples)), "estimated"
    return samples, words, spans, "estimated" if "estimated" in sources else "alignment"


def phoneme_count(piper: Any, text: str) -> int:
    """Phonemes espeak makes of `text` for the voice (what one Piper call's memory grows with)."""
    return sum(len(phonemes) for phonemes in piper.phonemize(text))


def _character_runs(piper: Any, text: str) -> list[str]:
    """`text` halved by characters until each part has at most MAX_PHONEMES_PER_CALL phonemes."""
    if len(text) <= 1 or phoneme_count(piper, text) <= MAX_PHONEMES_PER_CALL:
        return [text]
    middle = len(text) // 2
    return _character_runs(piper, text[:middle]) + _character_runs(piper, text[middle:])


def _audio_of(chunks: Any) -> np.ndarray:
    """Piper's chunks joined as float32 samples (empty when it made none)."""
    arrays = [chunk.audio_float_array for chunk in chunks]
    return np.concatenate(arrays).astype(np.float32) if arrays else np.zeros(0, dtype=np.float32)


def _word_spans(
    chunks: Sequence[Any], words: Sequence[str], total: int, sounds_of_word: Callable[[str], list[str]]
) -> tuple[list[tuple[int, int]], WordTimingSource]:
    """Word spans within the sentence from alignments when they map cleanly, else estimated."""
    aligned_chunks: list[tuple[int, list[tuple[str, int]]]] = []
    offset = 0
    for chunk in chunks:
        alignments = chunk.phoneme_alignments
        if alignments is None or sum(int(a.num_samples) for a in alignments) != len(chunk.audio_float_array):
            aligned_chunks = []
            break
        aligned_chunks.append((offset, [(a.phoneme, int(a.num_samples)) for a in alignments]))
        offset += len(chunk.audio_float_array)
    if aligned_chunks:
        spans = align_words([sounds_of_word(w) for w in words], sounding_phonemes(aligned_chunks))
        if spans is not None:
            return spans, "alignment"
    start, end = voiced_span(aligned_chunks, total)
    return estimate_words(words, start, end), "estimated"
