"""The JSON body of a webhook event."""

from __future__ import annotations

from enum import Enum
from typing import Any

from reelkube.api.common import API_VERSION


def event_payload(
    kind: str, namespace: str, name: str, uid: str, phase: str | Enum | None, status_dict: dict[str, Any]
) -> dict[str, Any]:
    """The body sent for an event about one resource::

        {"apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob",
         "metadata": {"namespace": ..., "name": ..., "uid": ...},
         "phase": "Succeeded", "status": {...the resource's status, outputs included...}}

    ``deliver`` adds ``"event"`` (also sent as ``X-Reelkube-Event``). The status's own ``webhook``
    field is left out: it describes earlier deliveries, not this event."""
    status = {key: value for key, value in status_dict.items() if key != "webhook"}
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"namespace": namespace, "name": name, "uid": uid},
        "phase": phase.value if isinstance(phase, Enum) else phase,
        "status": status,
    }
