"""Piper synthesis: sentences -> one track of samples plus sentence and word timings.

Each sentence is synthesized on its own (Piper may split it further, e.g. after "Mr."; its
chunks are joined) and followed by `sentenceSilence` seconds of silence. Every timing comes
from sample counts, so the timings match the track exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reelkube.api.ttsjob import VoiceSpec
from reelkube.errors import RenderFailed, SpecError
from reelkube.speech.script import sentence_words
from reelkube.speech.voice import LoadedVoice
from reelkube.speech.word_timing import align_words, estimate_words, sounding_phonemes, sounds_of, voiced_span
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming, WordTimingSource

log = logging.getLogger(__name__)

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

    pieces: list[np.ndarray] = []
    timings: list[SentenceTiming] = []
    cursor = 0
    started = time.monotonic()
    for index, sentence in enumerate(sentences):
        try:
            chunks = list(piper.synthesize(sentence, config, include_alignments=voice.has_alignments))
        except Exception as error:  # onnxruntime/espeak failures are not the user's to fix
            raise RenderFailed(f"piper failed on sentence {index + 1}: {error}") from error
        audio = (
            np.concatenate([chunk.audio_float_array for chunk in chunks]).astype(np.float32)
            if chunks
            else np.zeros(0, dtype=np.float32)
        )
        words = sentence_words(sentence)
        spans, source = _word_spans(chunks, words, len(audio), sounds_of_word)
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
        pieces.extend((audio, silence))
        cursor += len(audio) + len(silence)
        if on_sentence is not None:
            on_sentence(index + 1, len(sentences))
    elapsed = time.monotonic() - started
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
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
