"""Timings for speech that Piper did not synthesize (a recorded voiceover): sentences spread over its
length in proportion to their length in characters, words estimated within each. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from reelkube.speech.script import sentence_words
from reelkube.speech.word_timing import estimate_words
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

NOMINAL_SAMPLE_RATE = 48_000
"""The rate sample positions are counted in (the voiceover's own rate is not needed)."""


def estimate_timings(sentences: Sequence[str], duration: float) -> Timings:
    """Timings for `sentences` spoken over `duration` seconds, all marked "estimated"."""
    rate = NOMINAL_SAMPLE_RATE
    total = round(duration * rate)
    weights = [max(1, len(sentence)) for sentence in sentences]
    scale = total / sum(weights) if weights else 0.0
    timings: list[SentenceTiming] = []
    cursor = 0.0
    for index, (sentence, weight) in enumerate(zip(sentences, weights, strict=True)):
        start, end = round(cursor), round(cursor + weight * scale)
        cursor += weight * scale
        words = sentence_words(sentence)
        spans = estimate_words(words, start, end)
        timings.append(
            SentenceTiming(
                index=index,
                text=sentence,
                start=start / rate,
                end=end / rate,
                start_sample=start,
                end_sample=end,
                words=[WordTiming(w, s / rate, e / rate) for w, (s, e) in zip(words, spans, strict=True)],
                word_timing_source="estimated",
            )
        )
    return Timings(sample_rate=rate, total_samples=total, sentence_silence=0.0, sentences=timings)
