"""A resource's progress as short text: the fields of a progress line or a table row.

Pure functions of the typed status, shared by `reelkube submit --wait`, `reelkube get` and
programs that print progress from ``Handle.wait(on_progress=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelkube.api.status import Phase, ResourceStatus
from reelkube.client.resources import queue_position


def format_eta(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``1h02m``; empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


@dataclass(frozen=True)
class ProgressView:
    """The displayed fields of one status, each already text (empty when not known)."""

    phase: str
    step: str
    percent: str
    frames: str
    eta: str
    queue: str
    detail: str
    """For Failed or Canceled: ``Reason: message``."""


def progress_view(status: ResourceStatus) -> ProgressView:
    """What a person is shown of ``status``."""
    phase = status.phase
    running = phase == Phase.RUNNING
    position = queue_position(status)
    frames = ""
    if status.totalFrames and (running or phase == Phase.SUCCEEDED):
        frames = f"{status.currentFrame or 0}/{status.totalFrames}"
    detail = ""
    if phase in (Phase.FAILED, Phase.CANCELED):
        detail = ": ".join(p for p in (status.reason, status.message) if p)
    return ProgressView(
        phase=phase.value if phase else "Pending",
        step=status.step.value if status.step and running else "",
        percent=f"{status.progress}%" if status.progress is not None and phase != Phase.QUEUED else "",
        frames=frames,
        eta=format_eta(status.etaSeconds) if running else "",
        queue=f"#{position}" if position is not None and phase in (Phase.QUEUED, Phase.PENDING, None) else "",
        detail=detail,
    )


def progress_line(name: str, status: ResourceStatus) -> str:
    """One line: ``reel  Running  rendering  42%  frames 126/300  eta 7s`` (``queued #3`` while
    queued, the reason and message when it failed)."""
    view = progress_view(status)
    parts = [name, view.phase]
    if view.queue:
        parts.append(f"queue {view.queue}")
    parts += [p for p in (view.step, view.percent) if p]
    if view.frames:
        parts.append(f"frames {view.frames}")
    if view.eta:
        parts.append(f"eta {view.eta}")
    if view.detail:
        parts.append(view.detail)
    return "  ".join(parts)
