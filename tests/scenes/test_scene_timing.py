"""Scene timing: slots from measured speech with padding, overrides, silent scenes; the voice
track and word timings moved to the slots. Pure: timings are built by hand, no Piper."""

from __future__ import annotations

import numpy as np
import pytest

from reelkube.scenes.splitting import SceneDraft
from reelkube.scenes.timing import (
    LEAD_IN,
    MIN_SCENE,
    SILENT_SCENE,
    TAIL,
    lay_out,
    place_voice,
    placed_timings,
    speech_spans,
)
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

RATE = 1000


def track(spans: list[tuple[float, float]], total: float) -> Timings:
    """Timings of one-word sentences spoken over `spans` (seconds) in a track of `total` seconds."""
    sentences = [
        SentenceTiming(
            index=i, text=f"w{i}", start=s, end=e, start_sample=round(s * RATE), end_sample=round(e * RATE),
            words=[WordTiming(f"w{i}", s, e)], word_timing_source="alignment",
        )
        for i, (s, e) in enumerate(spans)
    ]  # fmt: skip
    return Timings(
        sample_rate=RATE, total_samples=round(total * RATE), sentence_silence=0.2, sentences=sentences
    )


def scene(index: int, sentences: int, min_duration: float | None = None) -> SceneDraft:
    return SceneDraft(
        index=index, sentences=tuple(f"s{n}" for n in range(sentences)), min_duration=min_duration
    )


def test_slots_follow_speech_with_padding() -> None:
    timings = track([(0.0, 2.0), (2.2, 3.0), (3.2, 4.2), (4.4, 4.6)], 4.8)
    drafts = [scene(0, 2), scene(1, 1), scene(2, 1)]
    spans = speech_spans(drafts, timings)
    assert [(s.start, s.end, s.sentences) for s in spans] == [
        (0.0, 3.0, (0, 1)),
        (3.2, 4.2, (2,)),
        (4.4, 4.6, (3,)),
    ]
    slots = lay_out(drafts, spans, offset=2.5)
    assert slots[0].start == 2.5
    assert slots[0].duration == pytest.approx(LEAD_IN + 3.0 + TAIL)
    assert slots[1].duration == pytest.approx(max(MIN_SCENE, LEAD_IN + 1.0 + TAIL))
    assert slots[2].duration == pytest.approx(MIN_SCENE)  # a short line still gets a readable scene
    assert all(a.end == b.start for a, b in zip(slots, slots[1:], strict=False))  # no gaps
    assert [s.speech_at for s in slots] == [pytest.approx(s.start + LEAD_IN) for s in slots]


@pytest.mark.parametrize(
    ("sentences", "min_duration", "expected"),
    [
        (1, 10.0, 10.0),  # an override lengthens the scene
        (1, 0.5, LEAD_IN + 3.0 + TAIL),  # but never cuts the narration
        (0, None, SILENT_SCENE),  # a silent scene without an override
        (0, 1.25, 1.25),  # a silent scene takes its override as it is
    ],
)
def test_overrides(sentences: int, min_duration: float | None, expected: float) -> None:
    timings = track([(0.0, 3.0)] if sentences else [], 3.0)
    drafts = [scene(0, sentences, min_duration)]
    assert lay_out(drafts, speech_spans(drafts, timings))[0].duration == pytest.approx(expected)


def test_voice_and_words_move_to_their_slots() -> None:
    timings = track([(0.0, 1.0), (1.5, 2.0)], 2.2)
    samples = np.concatenate([np.full(1000, 0.5), np.zeros(500), np.full(500, 0.25), np.zeros(200)]).astype(
        np.float32
    )
    drafts = [scene(0, 1), scene(1, 1)]
    slots = lay_out(drafts, speech_spans(drafts, timings), offset=1.0)
    total = slots[-1].end + 1.0
    voice = place_voice(samples, RATE, slots, total)
    assert len(voice) == round(total * RATE)
    first, second = slots[0].speech_at, slots[1].speech_at
    assert np.all(voice[: round(first * RATE)] == 0)
    assert np.all(voice[round(first * RATE) : round((first + 1.0) * RATE)] == pytest.approx(0.5))
    assert np.all(voice[round(second * RATE) : round((second + 0.5) * RATE)] == pytest.approx(0.25))
    moved = placed_timings(timings, slots, total)
    assert [(s.start, s.end) for s in moved.sentences] == [
        (pytest.approx(first), pytest.approx(first + 1.0)),
        (pytest.approx(second), pytest.approx(second + 0.5)),
    ]
    assert moved.sentences[1].words[0].start == pytest.approx(second)
    assert moved.duration == pytest.approx(total)


def test_more_drafted_sentences_than_timed_is_an_error() -> None:
    with pytest.raises(ValueError, match="sentences"):
        speech_spans([scene(0, 2)], track([(0.0, 1.0)], 1.0))
