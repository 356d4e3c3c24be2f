"""When each scene plays: its narration's measured speech plus padding. Pure.

Rules: a scene with its own recorded voice-over lasts as long as the recording (at least its
`duration`) and plays it from its first frame. Otherwise a scene holds LEAD_IN seconds of quiet
before its first word and TAIL seconds after its last (a breath, so cuts never clip a word); it
lasts at least MIN_SCENE seconds, and at least its
`duration` override (an override lengthens a scene, it never cuts the narration short); a scene
without narration lasts its override or SILENT_SCENE. Scenes follow each other without gaps,
after `offset` seconds (a title card). The voice track is then laid out to match: each scene's
stretch of the synthesized track is moved to where its scene speaks, and the caption timings are
moved with it, so the captions follow the voice word by word; a recorded scene's narration is
spread over its recording (`with_recorded`, words estimated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from reelkube.scenes.splitting import SceneDraft
from reelkube.speech.estimate import estimate_timings
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

LEAD_IN = 0.2
TAIL = 0.45
MIN_SCENE = 1.5
SILENT_SCENE = 3.0


@dataclass(frozen=True)
class SpeechSpan:
    """Where a scene's narration lies in the synthesized track (seconds)."""

    start: float
    end: float
    sentences: tuple[int, ...]
    """Indexes of its sentences in the track's timings."""
    recorded: float | None = None
    """Seconds of the scene's own recorded voice-over, when it has one instead of speech in the
    synthesized track."""

    @property
    def length(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class SceneSlot:
    """A scene's place on the timeline."""

    start: float
    end: float
    speech_at: float
    """Timeline time of the first word (start + LEAD_IN)."""
    speech: SpeechSpan

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)


def speech_spans(drafts: Sequence[SceneDraft], timings: Timings) -> list[SpeechSpan]:
    """Each draft's stretch of a track synthesized from all drafts' sentences in order."""
    spans = []
    cursor = 0
    for draft in drafts:
        count = len(draft.sentences)
        own = timings.sentences[cursor : cursor + count]
        if len(own) != count:
            raise ValueError(f"timings hold {len(timings.sentences)} sentences, the drafts more")
        if own:
            spans.append(SpeechSpan(own[0].start, own[-1].end, tuple(s.index for s in own)))
        else:
            spans.append(SpeechSpan(0.0, 0.0, ()))
        cursor += count
    return spans


def lay_out(
    drafts: Sequence[SceneDraft], spans: Sequence[SpeechSpan], offset: float = 0.0
) -> list[SceneSlot]:
    """Scene slots back to back from `offset` (see the module docstring for the padding rules)."""
    slots = []
    cursor = offset
    for draft, span in zip(drafts, spans, strict=True):
        start = round(cursor, 3)
        if span.recorded is not None:
            # A recorded voice-over sets the scene's length and plays from its first frame.
            length = max(span.recorded, draft.min_duration or 0.0)
            end = round(cursor + length, 3)
            slots.append(SceneSlot(start=start, end=end, speech_at=start, speech=span))
            cursor = end
            continue
        length = max(LEAD_IN + span.length + TAIL, MIN_SCENE) if span.sentences else SILENT_SCENE
        if draft.min_duration is not None:
            length = max(length, draft.min_duration) if span.sentences else draft.min_duration
        end = round(cursor + length, 3)
        slots.append(SceneSlot(start=start, end=end, speech_at=round(start + LEAD_IN, 3), speech=span))
        cursor = end
    return slots


def fixed_slots(spans: Sequence[SpeechSpan], total: float) -> list[SceneSlot]:
    """Slots for a voice that is played as it is (a recorded voiceover): each scene from its first
    word (the first from 0) to the next scene's first word, the last to the end of the voice."""
    slots = []
    for number, span in enumerate(spans):
        start = 0.0 if number == 0 else round(span.start, 3)
        end = round(spans[number + 1].start, 3) if number + 1 < len(spans) else round(total, 3)
        slots.append(SceneSlot(start=start, end=end, speech_at=round(span.start, 3), speech=span))
    return slots


def place_voice(samples: np.ndarray, rate: int, slots: Sequence[SceneSlot], total: float) -> np.ndarray:
    """A track of `total` seconds with each scene's speech moved to its slot, silence elsewhere."""
    track = np.zeros(round(total * rate), dtype=np.float32)
    for slot in slots:
        if not slot.speech.sentences:
            continue
        source = samples[round(slot.speech.start * rate) : round(slot.speech.end * rate)]
        at = round(slot.speech_at * rate)
        piece = source[: max(0, len(track) - at)]
        track[at : at + len(piece)] = piece
    return track


def placed_timings(timings: Timings, slots: Sequence[SceneSlot], total: float) -> Timings:
    """`timings` moved the way `place_voice` moves the samples."""
    rate = timings.sample_rate
    moved: list[SentenceTiming] = []
    for slot in slots:
        shift = slot.speech_at - slot.speech.start
        for index in slot.speech.sentences:
            sentence = timings.sentences[index]
            moved.append(
                replace(
                    sentence,
                    start=sentence.start + shift,
                    end=sentence.end + shift,
                    start_sample=round((sentence.start + shift) * rate),
                    end_sample=round((sentence.end + shift) * rate),
                    words=[WordTiming(w.text, w.start + shift, w.end + shift) for w in sentence.words],
                )
            )
    return replace(timings, total_samples=round(total * rate), sentences=moved)


def with_recorded(timings: Timings, drafts: Sequence[SceneDraft], slots: Sequence[SceneSlot]) -> Timings:
    """`timings` (on the video's clock) with the narration of scenes that play a recorded
    voice-over spread over their recording (words estimated), all sentences in time order."""
    rate = timings.sample_rate
    extra: list[SentenceTiming] = []
    for draft, slot in zip(drafts, slots, strict=True):
        if slot.speech.recorded is None or not draft.sentences:
            continue
        at = slot.speech_at
        for sentence in estimate_timings(draft.sentences, slot.speech.recorded).sentences:
            extra.append(
                replace(
                    sentence,
                    start=sentence.start + at,
                    end=sentence.end + at,
                    start_sample=round((sentence.start + at) * rate),
                    end_sample=round((sentence.end + at) * rate),
                    words=[WordTiming(w.text, w.start + at, w.end + at) for w in sentence.words],
                )
            )
    ordered = sorted([*timings.sentences, *extra], key=lambda sentence: sentence.start)
    return replace(timings, sentences=[replace(s, index=i) for i, s in enumerate(ordered)])
