"""The storyboard: the scene plan as data, written as `storyboard.json` beside the video.

JSON::

    {"version": 1, "format": "explainer", "width": 1920, "height": 1080, "fps": 30,
     "duration": 31.4, "wordTimingSource": "alignment",
     "cards": [{"kind": "title", "start": 0, "end": 2.5, "text": "..."}, ...],
     "scenes": [{"index": 0, "start": 2.5, "end": 6.1, "speechStart": 2.7, "narration": "...",
                 "text": {"heading": "..."}, "visual": {"source": "library", "src": "...",
                 "assetId": "city-night", "score": 0.77, "query": "...", "attribution": "..."}}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelkube.scenes.brief import OnScreenText
from reelkube.scenes.library import ChosenVisual

STORYBOARD_VERSION = 1


@dataclass(frozen=True)
class Card:
    """A designed card outside the scenes (title, outro, call to action, verdict)."""

    kind: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class StoryboardScene:
    """One planned scene."""

    index: int
    start: float
    end: float
    speech_start: float | None
    narration: str
    text: OnScreenText
    visual: ChosenVisual

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)

    @property
    def label(self) -> str:
        """The scene's text in a few words (contact-sheet labels, fallback cards)."""
        text = self.text
        for candidate in (text.heading, text.bullet, text.label):
            if candidate:
                return candidate
        return self.narration or (self.visual.query or f"Scene {self.index + 1}")


@dataclass
class Storyboard:
    """The plan of a scene-based video."""

    format: str
    width: int
    height: int
    fps: float
    duration: float
    scenes: list[StoryboardScene]
    cards: list[Card] = field(default_factory=list)
    word_timing_source: str = "alignment"
    extras: dict[str, Any] = field(default_factory=dict)
    """Format-specific facts (e.g. the comparison's two subjects and their visuals)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form described in the module docstring."""
        return {
            "version": STORYBOARD_VERSION,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "duration": round(self.duration, 3),
            "wordTimingSource": self.word_timing_source,
            "cards": [{"kind": c.kind, "start": c.start, "end": c.end, "text": c.text} for c in self.cards],
            "scenes": [
                {
                    "index": s.index,
                    "start": s.start,
                    "end": s.end,
                    "speechStart": s.speech_start,
                    "narration": s.narration,
                    "text": s.text.model_dump(exclude_none=True),
                    "visual": s.visual.to_dict(),
                }
                for s in self.scenes
            ],
            **self.extras,
        }

    def write(self, path: Path) -> Path:
        """Write `storyboard.json` (or `path`); returns `path`."""
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path
