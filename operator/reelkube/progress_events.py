"""Progress events: what the engine (downloads, ffmpeg `-progress`), speech (Piper) and the
templates report while they work.

Only the event type and the callback signature live here, below every layer that emits events:
the run pipeline (:mod:`reelkube.pipeline`) passes them on to the terminal display or to the
pod's status reporter, and nothing that emits them needs to import the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from reelkube.api.status import Step


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report. `percent` is 0-100 over the whole job's current step."""

    step: Step
    percent: float
    frame: int | None = None
    total_frames: int | None = None
    fps: float | None = None
    eta_seconds: float | None = None
    message: str | None = None
    encoder: str | None = None
    """The video encoder once chosen (``status.encoder``), e.g. after a GPU fallback."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (used for `--json` lines and logs)."""
        return {k: (v.value if isinstance(v, Step) else v) for k, v in asdict(self).items() if v is not None}


ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(_event: ProgressEvent) -> None:
    """A callback that drops every event."""
