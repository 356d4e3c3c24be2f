"""Status of both kinds: phase, live progress, outputs, kstatus conditions, webhook delivery.

The render pod writes the live fields (`step`, `progress`, `currentFrame`, `totalFrames`,
`etaSeconds`, `lastProgressTime`, `encoder`, `outputs`); the operator writes everything else.
A chunked render's chunk pods write only their own entry of `chunks` (a map keyed by the
index, so JSON merge patches from parallel pods never overwrite each other) and the operator
sums them into `progress` and `currentFrame`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import Field, JsonValue

from reelkube.api.common import ApiModel


class Phase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELED})


class Step(StrEnum):
    DOWNLOADING = "downloading"
    NARRATING = "narrating"
    RENDERING = "rendering"
    UPLOADING = "uploading"
    DONE = "done"


class Condition(ApiModel):
    """A kstatus-style condition (`Ready`, `Reconciling`, `Stalled`)."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    type: str
    """Condition type."""
    status: str = Field(json_schema_extra={"enum": ["True", "False", "Unknown"]})
    """True, False or Unknown."""
    reason: str = ""
    """One-word CamelCase reason."""
    message: str = ""
    """Human-readable detail."""
    lastTransitionTime: str | None = None
    """When the status last changed (RFC 3339)."""
    observedGeneration: int | None = None
    """The generation this condition was computed from."""


UNWRITTEN_STATUS: Mapping[str, int] = MappingProxyType({"observedGeneration": 0})
"""The CRD's default status: what the API server shows before the operator's first write."""


def status_unwritten(status: Mapping[str, Any] | None) -> bool:
    """No status written yet: none at all, or only the CRD's default."""
    return not status or dict(status) == dict(UNWRITTEN_STATUS)


class OutputArtifact(ApiModel):
    """One uploaded (or locally written) file."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    uri: str
    """`s3://bucket/key`, or a local path for `reelkube render`."""
    url: str | None = None
    """Presigned HTTPS URL."""
    expiresAt: str | None = None
    """When `url` stops working (RFC 3339)."""
    size: int | None = None
    """Size in bytes."""
    sha256: str | None = None
    """SHA-256 of the content, hex."""
    contentType: str | None = None
    """MIME type."""
    duration: float | None = None
    """Media duration in seconds."""
    width: int | None = None
    """Frame width for images and video."""
    height: int | None = None
    """Frame height for images and video."""


DELIVERY_STATES: list[JsonValue] = ["Pending", "Delivered", "Failed"]

MAX_WEBHOOK_DELIVERIES = 20
"""Delivery records kept in `status.webhook.deliveries`; the oldest go first."""


class WebhookEventDelivery(ApiModel):
    """The delivery of one webhook event, across all its attempts."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    event: str
    """Event name (queued, started, voiceover_uploaded, progress, succeeded, failed, canceled)."""
    id: str
    """The event's id (the `webhook-id` header): the same on every attempt and redelivery."""
    state: str = Field(json_schema_extra={"enum": DELIVERY_STATES})
    """Pending, Delivered or Failed."""
    attempts: int = 0
    """Attempts made."""
    responseCode: int | None = None
    """HTTP status of the last attempt (absent when no answer came)."""
    lastAttemptTime: str | None = None
    """When the last attempt was made (RFC 3339)."""
    deliveredTime: str | None = None
    """When the receiver accepted the event (RFC 3339)."""
    message: str | None = None
    """Error of the last failed attempt."""


class WebhookDelivery(ApiModel):
    """What happened to the last webhook sent, and the record of every recent event."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    event: str
    """Event name (started, succeeded, failed, canceled)."""
    state: str = Field(json_schema_extra={"enum": DELIVERY_STATES})
    """Pending, Delivered or Failed."""
    attempts: int = 0
    """Attempts made."""
    responseCode: int | None = None
    """HTTP status of the last attempt."""
    lastAttemptTime: str | None = None
    """When the last attempt was made."""
    message: str | None = None
    """Error of the last failed attempt."""
    deliveries: list[WebhookEventDelivery] | None = Field(default=None, max_length=MAX_WEBHOOK_DELIVERIES)
    """One record per event, oldest first (the newest 20 are kept)."""


CHUNK_STATES: list[JsonValue] = ["Pending", "Running", "Succeeded", "Failed"]
CACHE_RESULTS: list[JsonValue] = ["hit", "miss", "off"]


class ChunkStatus(ApiModel):
    """One window of a chunked render. The chunk's pod writes ``framesDone``, ``frames``,
    ``cache`` and ``key``; the operator writes ``state`` and ``attempts``."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    index: int = Field(ge=0)
    """The window's index (the Indexed Job's completion index)."""
    state: str | None = Field(default=None, json_schema_extra={"enum": CHUNK_STATES})
    """Pending, Running, Succeeded or Failed."""
    attempts: int | None = None
    """Pods started for this index so far (a disrupted or deleted pod's replacement counts)."""
    framesDone: int | None = None
    """Frames of the window rendered (all of them on a cache hit)."""
    frames: int | None = None
    """Frames in the window."""
    cache: str | None = Field(default=None, json_schema_extra={"enum": CACHE_RESULTS})
    """hit: the segment was reused from the chunk cache; miss: rendered and stored; off:
    spec.output.chunkCache is false."""
    key: str | None = None
    """The segment's content key (first 16 hex digits of its sha256)."""


class ResourceStatus(ApiModel):
    """Observed state of a RenderJob or TTSJob."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    phase: Phase | None = None
    """Pending, Queued, Running, Succeeded, Failed or Canceled."""
    step: Step | None = None
    """What the pod is doing while Running."""
    progress: int | None = Field(default=None, ge=0, le=100)
    """Percent done, 0-100."""
    currentFrame: int | None = None
    """Frames rendered so far."""
    totalFrames: int | None = None
    """Frames the render will produce."""
    etaSeconds: int | None = None
    """Estimated seconds until the render finishes."""
    lastProgressTime: str | None = None
    """When the pod last reported progress (RFC 3339); the operator fails a render whose progress
    stands still for longer than its stall limit (reason NoProgress)."""
    startTime: str | None = None
    """When the Job started running."""
    completionTime: str | None = None
    """When the resource reached a terminal phase."""
    attempts: int | None = None
    """Pods started for this resource so far."""
    jobName: str | None = None
    """Name of the Kubernetes Job doing the work."""
    queuePosition: int | None = Field(default=None, ge=1)
    """While a concurrency limit holds the resource back: its place in the queue, 1 = next
    (higher spec.priority first, then oldest). `message` says which limit it waits for."""
    encoder: str | None = None
    """Video encoder in use (e.g. libx264, h264_nvenc)."""
    reason: str | None = None
    """Machine-readable cause of the current phase (e.g. InputNotFound, DeadlineExceeded)."""
    message: str | None = None
    """Human-readable detail; for failures, the cause a user can act on."""
    observedGeneration: int | None = None
    """The spec generation this status describes."""
    outputs: dict[str, OutputArtifact] | None = None
    """Artifacts by name: video, thumbnail, subtitles, voiceover, audio, timings."""
    conditions: list[Condition] | None = None
    """kstatus conditions: Ready, Reconciling, Stalled."""
    webhook: WebhookDelivery | None = None
    """Delivery state of the last webhook event."""
    chunks: dict[str, ChunkStatus] | None = None
    """A chunked render's windows, keyed by index ("0", "1", ...)."""
    chunkCount: int | None = None
    """How many windows a chunked render is split into."""
    chunkSummary: str | None = None
    """Windows done over windows, e.g. `4/6 chunks` (the Chunks column of kubectl get)."""
