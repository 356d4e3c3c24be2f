"""A resource as the API server returned it, and turning what a user hands over into a body.

The client accepts a parsed model, a plain mapping or a manifest path; all become the JSON body
the API server is sent. Statuses are read with the API's own model (ResourceStatus), so a
program sees the same typed fields the operator writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelkube.api.kinds import BY_PLURAL, KINDS, Resource, ResourceKind
from reelkube.api.status import TERMINAL_PHASES, OutputArtifact, Phase, ResourceStatus
from reelkube.errors import SpecError

Body = dict[str, Any]

BATCH_LABEL = "reelkube.io/batch"
"""Label on every resource one `reelkube batch` run created; its value is the batch id."""


@dataclass(frozen=True)
class Snapshot:
    """One RenderJob or TTSJob as last read from the API server."""

    kind: ResourceKind
    body: Body

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.body["metadata"].get("labels") or {})

    @property
    def resource_version(self) -> str | None:
        return self.body["metadata"].get("resourceVersion")

    @property
    def status(self) -> ResourceStatus:
        """The typed status (empty until the operator first writes it)."""
        return ResourceStatus.model_validate(self.body.get("status") or {})

    @property
    def phase(self) -> Phase | None:
        return self.status.phase

    @property
    def done(self) -> bool:
        """Whether the phase is terminal (Succeeded, Failed or Canceled)."""
        return self.phase in TERMINAL_PHASES

    @property
    def outputs(self) -> dict[str, OutputArtifact]:
        return dict(self.status.outputs or {})

    @property
    def cancel_requested(self) -> bool:
        return bool((self.body.get("spec") or {}).get("cancel"))


def queue_position(status: ResourceStatus) -> int | None:
    """``status.queuePosition`` when the operator writes one (older operators do not)."""
    value = getattr(status, "queuePosition", None)
    if value is None and status.model_extra:
        value = status.model_extra.get("queuePosition")
    return int(value) if isinstance(value, int | float) else None


def kind_for(name: str) -> ResourceKind:
    """A kind from what a user types: ``RenderJob``, ``renderjobs``, ``renderjob`` or ``rj``."""
    lowered = name.lower()
    for kind in KINDS.values():
        if lowered in {kind.kind.lower(), kind.plural, kind.singular, *kind.short_names}:
            return kind
    if lowered.split(".", 1)[0] in BY_PLURAL:  # renderjobs.reelkube.io
        return BY_PLURAL[lowered.split(".", 1)[0]]
    raise SpecError(f"unknown kind {name!r}; known: {', '.join(KINDS)}")


def resource_body(resource: Resource | Mapping[str, Any] | Path | str) -> Body:
    """The JSON body to create for ``resource``, validated as ``reelkube validate`` does.

    A model is dumped with the fields that were set (the CRD's defaults fill the rest); a path
    is read as a manifest. SpecError lists every problem.
    """
    from reelkube.manifest import manifest_errors, read_document

    if isinstance(resource, str | Path):
        document: Body = read_document(Path(resource))
    elif isinstance(resource, Mapping):
        document = dict(resource)
    else:
        document = resource.model_dump(mode="json", exclude_none=True, exclude_unset=True)
        document["apiVersion"] = resource.apiVersion
        document["kind"] = resource.kind
        metadata = document.setdefault("metadata", {})
        metadata["name"] = resource.metadata.name
        if "namespace" not in resource.metadata.model_fields_set:
            metadata.pop("namespace", None)
    errors = manifest_errors(document)
    if errors:
        raise SpecError("\n".join(str(e) for e in errors))
    return document
