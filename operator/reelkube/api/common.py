"""Pieces shared by both kinds: storage, webhooks, pod resources, input limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from reelkube.api import field_docs

# Before the first model class: the field docstrings come from a cache file when it is current.
field_docs.install()

GROUP = "reelkube.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


# A path (its first segment holds no ':', so nothing reads it as a scheme) or a URL whose scheme
# some input policy accepts: what `reelkube validate` and the models refuse everywhere.
INPUT_LOCATION_PATTERN = r"^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ss]3|[Ff][Ii][Ll][Ee])://|[^:/]*(?:/|$))"
# The CRD is the cluster's schema, where file:// and absolute (or ~) paths are never accepted
# (relative paths name the renderer's asset folder; `..` out of it is refused at fetch time).
# RE2 syntax, as the API server reads it.
CLUSTER_INPUT_LOCATION_PATTERN = r"^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ss]3)://|[^:/~][^:/]*(?:/|$))"


def _check_input_location(value: str) -> str:
    if re.match(INPUT_LOCATION_PATTERN, value) is None:
        scheme = value.split(":", 1)[0]
        raise ValueError(
            f"{scheme}: is not an input scheme: give a path, or an http(s)://, s3:// or file:// URL"
        )
    return value


InputLocation = Annotated[
    str,
    AfterValidator(_check_input_location),
    Field(json_schema_extra={"pattern": CLUSTER_INPUT_LOCATION_PATTERN}),
]
"""Where an input comes from: a path or an http(s)://, s3:// or file:// URL. Unknown schemes are
refused by the model; the CRD also refuses what the cluster never accepts (file://, absolute)."""


def cel(rule: str, message: str) -> dict[str, Any]:
    """One CEL ``x-kubernetes-validations`` entry, attached through ``json_schema_extra``."""
    return {"rule": rule, "message": message}


ONE_WAY_SPEC_FIELDS = ("cancel",)
"""Spec fields the immutability rules leave out: each has a one-way rule of its own."""


QUEUE_PRIORITY_RULE = "!has(self.queueName) || !has(self.priority) || self.priority == 0"
QUEUE_PRIORITY_MESSAGE = (
    "spec.priority orders Reelkube's own queue and has no effect with spec.queueName, where Kueue"
    " orders the Jobs: leave priority out (or 0)"
)
"""Both kinds: a priority that would silently do nothing is refused at apply."""


def spec_rules(*rules: dict[str, Any], verb: str) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` of a kind's spec: its own CEL ``rules``, then one immutability rule
    per field, generated from the schema's properties so that no field can be forgotten.

    Every field keeps its value once created, except ``cancel``, which may only go from
    false (or absent) to true. CEL has no "equal except one field", hence a rule per field;
    ``has()`` on both sides because an optional field may be absent before and after.
    ``verb`` ends the messages ("re-render", "re-run").
    """

    def extra(schema: dict[str, Any]) -> None:
        validations = [*rules, cel(QUEUE_PRIORITY_RULE, QUEUE_PRIORITY_MESSAGE)]
        for name in schema.get("properties", {}):
            if name in ONE_WAY_SPEC_FIELDS:
                continue
            same = f"has(self.{name}) == has(oldSelf.{name})"
            equal = f"(!has(self.{name}) || self.{name} == oldSelf.{name})"
            message = f"spec.{name} is immutable once created: delete and re-create to {verb}"
            validations.append(cel(f"{same} && {equal}", message))
        validations.append(
            cel(
                "!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",
                "spec.cancel cannot be undone: delete and re-create to " + verb,
            )
        )
        schema["x-kubernetes-validations"] = validations

    return extra


DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""An RFC 1123 label: what Kubernetes accepts as the name of most namespaced objects."""


class ApiModel(BaseModel):
    """Base for every API object: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


class StorageSpec(ApiModel):
    """Where outputs are uploaded (S3-compatible). Credentials never live here: they come from the
    environment or from the Secret named in the operator's configuration."""

    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    """Bucket that receives the outputs."""
    prefix: str = Field(default="reelkube", max_length=256, pattern=r"^[A-Za-z0-9!_.*'()/\-]*$")
    """Key prefix under which every output of this resource is written. Never absolute, never `..`."""
    endpointUrl: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    """S3 endpoint URL (for MinIO or other S3-compatible stores). Empty means AWS S3."""
    region: str = Field(default="us-east-1", max_length=64)
    """Region used for signing requests."""
    pathStyle: bool = True
    """Use path-style addressing (`endpoint/bucket/key`), as MinIO needs."""
    credentialsSecret: str | None = Field(default=None, max_length=253)
    """Name of a Secret in the resource's namespace with `AWS_ACCESS_KEY_ID` and
    `AWS_SECRET_ACCESS_KEY`; empty means the operator's default credentials."""
    presignExpirySeconds: int = Field(default=86400, ge=60, le=604800)
    """Lifetime of the presigned HTTPS URLs written into the status."""


class WebhookEvent(StrEnum):
    """The webhook vocabulary, in the order a resource's life announces it."""

    QUEUED = "queued"
    STARTED = "started"
    VOICEOVER_UPLOADED = "voiceover_uploaded"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


SUBSCRIBABLE_EVENTS: tuple[WebhookEvent, ...] = tuple(WebhookEvent)
"""The events the operator announces, all of them. `spec.webhook.events` accepts only these, so
that no subscription waits for an event that never comes."""


def _subscribable(event: WebhookEvent) -> WebhookEvent:
    if event not in SUBSCRIBABLE_EVENTS:
        allowed = ", ".join(e.value for e in SUBSCRIBABLE_EVENTS)
        raise ValueError(f"event {event.value!r} is not announced yet; choose from {allowed}")
    return event


SubscribableEvent = Annotated[
    WebhookEvent,
    AfterValidator(_subscribable),
    WithJsonSchema({"type": "string", "enum": [e.value for e in SUBSCRIBABLE_EVENTS]}),
]

# A label or annotation key: an optional DNS-subdomain prefix and a name of at most 63 characters.
MetadataKey = Annotated[
    str,
    Field(
        max_length=317,
        pattern=r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
    ),
]


class WebhookSpec(ApiModel):
    """An HTTP endpoint told about the resource's progress and outcome."""

    url: str = Field(max_length=2048, pattern=r"^https?://")
    """URL that receives a JSON POST for each event."""
    events: list[SubscribableEvent] = Field(
        default_factory=lambda: [WebhookEvent.SUCCEEDED, WebhookEvent.FAILED], max_length=7
    )
    """Events to deliver, each at most once and in this order: queued (accepted and waiting for a
    slot or its pod), started (the pod runs; announced before succeeded even when the render
    went from queued to done between two observations), voiceover_uploaded (the narration of a
    narrated RenderJob, or a TTSJob's audio, is in storage; before succeeded), progress (opt-in:
    every `progressStep` percentage points while running), succeeded, failed, canceled."""
    progressStep: int = Field(default=10, ge=10, le=90)
    """With `progress` subscribed: a progress event at most every this many percentage points
    (10 sends up to nine, at 10 %, 20 %, ... 90 %; completion is the succeeded event)."""
    secretRef: str | None = Field(default=None, max_length=253)
    """Name of a Secret with key `secret`: when set, each delivery is signed as the Standard
    Webhooks specification says (`webhook-id`, `webhook-timestamp` and `webhook-signature`
    headers; verify with any Standard Webhooks library and a 5-minute tolerance). The value is
    either a `whsec_<base64>` secret or any other string, whose exact bytes are the key: its
    `whsec_` form is `whsec_` followed by the base64 of those bytes. The deprecated
    `X-Reelkube-Signature` header (HMAC-SHA256 of the body alone, keyed with the value's bytes
    as written) is still sent for receivers that have not moved yet."""
    maxAttempts: int = Field(default=12, ge=1, le=20)
    """Delivery attempts before the webhook is marked failed, with exponential backoff between
    them (1 s doubling, at most 60 s apart): the default 12 keep trying for about 6 minutes, 20
    for about 15 (`reelkube.io/redeliver` sends a failed event again)."""
    forwardLabels: list[MetadataKey] | None = Field(default=None, max_length=32)
    """Label keys whose values are copied into each event's `metadata.labels` (pass-through data
    such as an order id). Empty means none: labels are never sent unless named here."""
    forwardAnnotations: list[MetadataKey] | None = Field(default=None, max_length=32)
    """Annotation keys whose values are copied into each event's `metadata.annotations`. Empty
    means none; name keys one by one, since annotations often hold tooling state."""


class ResourceSpec(ApiModel):
    """Compute resources for the Job's pod; empty fields take the chart's defaults."""

    cpu: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    """CPU request and limit, e.g. `2` or `1500m`."""
    memory: str | None = Field(default=None, pattern=r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?$")
    """Memory request and limit, e.g. `2Gi`."""
    ephemeralStorage: str | None = Field(default=None, pattern=r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?$")
    """Scratch space for inputs and outputs, e.g. `10Gi`."""


DEFAULT_MAX_PIXELS = 40_000_000


class InputLimits(ApiModel):
    """Bounds on what the renderer downloads."""

    maxVideoBytes: int = Field(default=500 * 1024 * 1024, ge=1)
    """Largest video input accepted, in bytes."""
    maxAudioBytes: int = Field(default=100 * 1024 * 1024, ge=1)
    """Largest audio input accepted, in bytes."""
    maxImageBytes: int = Field(default=50 * 1024 * 1024, ge=1)
    """Largest image input accepted, in bytes."""
    maxPixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1, le=268_435_456)
    """Largest picture accepted in an image or video input, as width x height, checked from the
    file's header before anything decodes it (a small PNG can declare 30,000 x 30,000 pixels).
    The default, 40 million, holds 8K UHD (7680 x 4320, 33.2 million) and most camera photos;
    one decoded frame at the limit needs about 160 MiB."""
    timeoutSeconds: float = Field(default=30.0, gt=0, le=3600)
    """Timeout of each download, in seconds."""


class JobSettings(ApiModel):
    """Fields shared by RenderJob and TTSJob specs that shape the Kubernetes Job."""

    storage: StorageSpec | None = None
    """Upload outputs here. Empty means the operator's default storage (or a local directory for
    `reelkube render`)."""
    webhook: WebhookSpec | None = None
    """Optional webhook told about progress and outcome."""
    timeoutSeconds: int = Field(default=1800, ge=10, le=86400)
    """Deadline for the whole render (the Job's `activeDeadlineSeconds`)."""
    retries: int = Field(default=2, ge=0, le=10)
    """Pod retries before the resource fails (the Job's `backoffLimit`)."""
    resources: ResourceSpec | None = None
    """Compute resources for the render pod."""
    inputLimits: InputLimits = Field(default_factory=InputLimits)
    """Download limits for inputs."""
    priority: int = Field(default=0, ge=-1000, le=1000)
    """Place in the queue when a concurrency limit holds resources back: higher starts first;
    equal priorities start oldest first."""
    queueName: str | None = Field(default=None, min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)
    """Kueue LocalQueue (in the resource's namespace) that admits the Job. Set, the Job is created
    suspended with the `kueue.x-k8s.io/queue-name` label, Kueue decides when it runs, and
    Reelkube's own concurrency limits and `priority` do not apply to it; the phase stays Queued
    until Kueue admits it. Empty means Reelkube's own queue. Needs Kueue installed in the cluster."""

    @model_validator(mode="after")
    def _priority_without_kueue(self) -> JobSettings:
        """The CRD's rule (:data:`QUEUE_PRIORITY_RULE`) for files checked outside a cluster."""
        if self.queueName and self.priority != 0:
            raise ValueError(QUEUE_PRIORITY_MESSAGE)
        return self

    cancel: bool = False
    """Set to true to stop the resource, queued or running: its Job and pods are deleted and the
    phase becomes Canceled (reason CanceledByUser). One way: it cannot be set back to false, and
    it is the only field that may change after creation."""
