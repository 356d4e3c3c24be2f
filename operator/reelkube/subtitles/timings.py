"""The timings file: when each sentence and word of the narration is heard.

Speech writes timings (synthesis, or an estimate for a recorded voiceover); subtitles read them.
The type lives here, below speech, so that subtitles never import speech.

JSON written next to the audio (`timings.json`)::

    {"version": 1, "sampleRate": 22050, "totalSamples": 264600, "duration": 12.0,
     "sentenceSilence": 0.2, "wordTimingSource": "alignment",
     "sentences": [{"index": 0, "text": "...", "start": 0.0, "end": 2.41,
                    "startSample": 0, "endSample": 53142, "wordTimingSource": "alignment",
                    "words": [{"text": "Hello,", "start": 0.035, "end": 0.42}, ...]}, ...]}

`start`/`end` of a sentence bound its speech (the silence after it is not included).
`wordTimingSource` is "alignment" when every sentence's words come from Piper's phoneme
durations, else "estimated" (per sentence, the field says which).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

WordTimingSource = Literal["alignment", "estimated"]

TIMINGS_VERSION = 1


@dataclass(frozen=True)
class WordTiming:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class SentenceTiming:
    index: int
    text: str
    start: float
    end: float
    start_sample: int
    end_sample: int
    words: list[WordTiming]
    word_timing_source: WordTimingSource


@dataclass(frozen=True)
class Timings:
    sample_rate: int
    total_samples: int
    sentence_silence: float
    sentences: list[SentenceTiming] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of the whole track in seconds, trailing silence included."""
        return self.total_samples / self.sample_rate

    @property
    def word_timing_source(self) -> WordTimingSource:
        """ "alignment" only when every sentence's words were aligned."""
        if self.sentences and all(s.word_timing_source == "alignment" for s in self.sentences):
            return "alignment"
        return "estimated"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form described in the module docstring."""
        return {
            "version": TIMINGS_VERSION,
            "sampleRate": self.sample_rate,
            "totalSamples": self.total_samples,
            "duration": round(self.duration, 6),
            "sentenceSilence": self.sentence_silence,
            "wordTimingSource": self.word_timing_source,
            "sentences": [
                {
                    "index": s.index,
                    "text": s.text,
                    "start": round(s.start, 6),
                    "end": round(s.end, 6),
                    "startSample": s.start_sample,
                    "endSample": s.end_sample,
                    "wordTimingSource": s.word_timing_source,
                    "words": [
                        {"text": w.text, "start": round(w.start, 6), "end": round(w.end, 6)} for w in s.words
                    ],
                }
                for s in self.sentences
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timings:
        """Read the JSON form back."""
        return cls(
            sample_rate=int(data["sampleRate"]),
            total_samples=int(data["totalSamples"]),
            sentence_silence=float(data.get("sentenceSilence", 0.0)),
            sentences=[
                SentenceTiming(
                    index=int(s["index"]),
                    text=s["text"],
                    start=float(s["start"]),
                    end=float(s["end"]),
                    start_sample=int(s["startSample"]),
                    end_sample=int(s["endSample"]),
                    words=[WordTiming(w["text"], float(w["start"]), float(w["end"])) for w in s["words"]],
                    word_timing_source=s.get("wordTimingSource", "estimated"),
                )
                for s in data["sentences"]
            ],
        )

    def write(self, path: Path) -> Path:
        """Write the JSON file; returns `path`."""
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> Timings:
        """Load a timings file written by `write`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
