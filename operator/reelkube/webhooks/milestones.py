"""Which webhook events a resource's status makes due, pure.

An event is due when the status shows its milestone and no delivery of it is recorded yet:
the record (``status.webhook.deliveries``, keyed by the event's id) is the memory, so an event
is announced once however often the status is observed, by whichever operator process, and a
retry that takes a resource from Running back to Queued does not announce ``queued`` again.

The phase says which of ``queued``, ``started`` and the terminal events are due; the live
fields the pod writes say when ``voiceover_uploaded`` (its output listed) and ``progress`` (a
new multiple of ``progressStep``) are. Events come in the order of a resource's life:
a render that went from Queued to Succeeded between two observations announces ``started``,
then ``voiceover_uploaded`` when it narrated, then ``succeeded``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from reelkube.api.common import WebhookEvent, WebhookSpec
from reelkube.api.status import Phase, ResourceStatus
from reelkube.webhooks.payload import event_id, progress_milestone

VOICEOVER_OUTPUTS = {"RenderJob": "voiceover", "TTSJob": "audio"}
"""The output whose upload is the ``voiceover_uploaded`` event, by kind: a narrated RenderJob's
narration track, a TTSJob's audio."""

_TERMINAL_EVENTS = {
    Phase.SUCCEEDED: WebhookEvent.SUCCEEDED,
    Phase.FAILED: WebhookEvent.FAILED,
    Phase.CANCELED: WebhookEvent.CANCELED,
}


@dataclass(frozen=True)
class Announcement:
    """One event to send: its name, and for events that come more than once (progress) which
    occurrence; ``id`` is the ``webhook-id`` derived from both."""

    event: str
    id: str
    occurrence: str | None = None


def _phase_events(old: Phase | None, new: Phase | None) -> list[WebhookEvent]:
    """The events a phase change announces, in order."""
    if new is None or new == old:
        return []
    if new == Phase.QUEUED:
        return [WebhookEvent.QUEUED]
    # A pod that runs had its Job accepted: queued is owed even when no write caught it queued
    # (the Queued write lost to an API server restart, the Job's creation found by a retry).
    unseen_queue = [WebhookEvent.QUEUED] if old in (None, Phase.PENDING) else []
    if new == Phase.RUNNING:
        return [*unseen_queue, WebhookEvent.STARTED]
    if new == Phase.SUCCEEDED:
        # A success proves the pod ran, even when no observation caught it running.
        started = [WebhookEvent.STARTED] if old != Phase.RUNNING else []
        return [*unseen_queue, *started, WebhookEvent.VOICEOVER_UPLOADED, WebhookEvent.SUCCEEDED]
    terminal = _TERMINAL_EVENTS.get(new)
    return [terminal] if terminal is not None else []


def _announced_progress(uid: str, recorded: Collection[str], step: int) -> int | None:
    """The highest progress milestone already recorded (None when none is)."""
    for milestone in range(99 // step * step, 0, -step):
        if event_id(uid, WebhookEvent.PROGRESS.value, str(milestone)) in recorded:
            return milestone
    return None


def due_events(
    *,
    kind: str,
    uid: str,
    webhook: WebhookSpec,
    old_phase: Phase | None,
    status: ResourceStatus,
    recorded: Collection[str],
) -> list[Announcement]:
    """The events due when the status goes from ``old_phase`` to ``status`` (as it will stand
    after the patch being written; pass its own phase as ``old_phase`` for a change of the live
    fields alone): the ones ``webhook`` subscribes to whose ids are not in ``recorded``, oldest
    milestone first."""
    subscribed = set(webhook.events)
    candidates = _phase_events(old_phase, status.phase)
    if status.phase == Phase.RUNNING:
        candidates.append(WebhookEvent.VOICEOVER_UPLOADED)
    due: list[Announcement] = []
    for event in candidates:
        if event not in subscribed:
            continue
        if event == WebhookEvent.VOICEOVER_UPLOADED and VOICEOVER_OUTPUTS.get(kind) not in (
            status.outputs or {}
        ):
            continue
        eid = event_id(uid, event.value)
        if eid not in recorded and all(a.id != eid for a in due):
            due.append(Announcement(event.value, eid))
    if status.phase == Phase.RUNNING and WebhookEvent.PROGRESS in subscribed:
        step = max(webhook.progressStep, 10)
        milestone = progress_milestone(_announced_progress(uid, recorded, step), status.progress, step)
        if milestone is not None:
            occurrence = str(milestone)
            due.append(Announcement("progress", event_id(uid, "progress", occurrence), occurrence))
    return due
