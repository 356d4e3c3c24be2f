"""Builders of Kubernetes objects as the API server returns them (plain JSON dicts): RenderJob and
TTSJob bodies, their batch Jobs and pods. Tests say what differs from a typical object and leave
the rest to the builder, instead of writing the whole dict by hand.

Parsed resources (``render_job()``, ``tts_job()``) come from the same bodies through the kind
registry, as the operator parses them.
"""

from __future__ import annotations

import copy
from typing import Any

from reelkube.api.kinds import RENDER_JOB, TTS_JOB, Resource

UID = "0b7c2a4e-1f7e-4d6b-9a51-3f3c8f0e2d11"
JOB_NAME = "rj-summer-reel-0123456789"
"""The name :func:`job` gives a Job unless told otherwise."""

RENDER_BODY: dict[str, Any] = {
    "apiVersion": "reelkube.io/v1alpha1",
    "kind": "RenderJob",
    "metadata": {
        "name": "summer-reel",
        "namespace": "media",
        "uid": UID,
        "generation": 1,
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl"}],
    },
    "spec": {
        "template": "captioned-reel",
        "props": {"title": "Hello", "backgroundUrl": "https://example.com/bg.jpg"},
        "output": {"format": "mp4", "codec": "h264"},
        "timeoutSeconds": 600,
        "retries": 1,
    },
}

TTS_BODY: dict[str, Any] = {
    "apiVersion": "reelkube.io/v1alpha1",
    "kind": "TTSJob",
    "metadata": {"name": "narration", "namespace": "media", "uid": UID, "generation": 3},
    "spec": {"text": "Hello there."},
}


# --- RenderJob / TTSJob ---------------------------------------------------------------------


def render_body(**spec: Any) -> dict[str, Any]:
    """RENDER_BODY with ``spec`` fields replaced (a deep copy)."""
    body = copy.deepcopy(RENDER_BODY)
    body["spec"].update(spec)
    return body


def resource_body(
    *,
    status: dict[str, Any] | None = None,
    deleting: bool = False,
    uid: str | None = UID,
    spec: dict[str, Any] | None = None,
    kind: str = "RenderJob",
) -> dict[str, Any]:
    """A RenderJob (or TTSJob) body: ``status`` as the API server holds it (None: no status yet),
    ``deleting`` with a deletionTimestamp, ``uid`` None for a body without one, ``spec`` fields
    replaced (a value of None drops the field)."""
    body = copy.deepcopy(RENDER_BODY if kind == "RenderJob" else TTS_BODY)
    for key, value in (spec or {}).items():
        if value is None:
            body["spec"].pop(key, None)
        else:
            body["spec"][key] = value
    if status is not None:
        body["status"] = copy.deepcopy(status)
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2025-01-01T00:10:00Z"
    if uid is None:
        body["metadata"].pop("uid")
    else:
        body["metadata"]["uid"] = uid
    return body


def render_job(**spec: Any) -> Resource:
    """A parsed RenderJob: RENDER_BODY with ``spec`` fields replaced."""
    return RENDER_JOB.parse(render_body(**spec))


def tts_job(**spec: Any) -> Resource:
    """A parsed TTSJob: TTS_BODY with ``spec`` fields replaced."""
    body = copy.deepcopy(TTS_BODY)
    body["spec"].update(spec)
    return TTS_JOB.parse(body)


# --- batch Jobs -----------------------------------------------------------------------------


def job(
    conditions: list[dict[str, Any]] | None = None,
    *,
    name: str = JOB_NAME,
    namespace: str = "media",
    kind: str = "RenderJob",
    **status: Any,
) -> dict[str, Any]:
    """A render Job of a ``kind`` resource in ``namespace``, with ``conditions`` (see
    :func:`condition`) and other ``status`` fields (``active=1``, ``failed=2``,
    ``completionTime=...``)."""
    labels = {"app.kubernetes.io/managed-by": "reelkube", "reelkube.io/kind": kind}
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"activeDeadlineSeconds": 600, "backoffLimit": 2},
        "status": {"startTime": "2025-01-01T00:00:05Z", "conditions": conditions or [], **status},
    }


def condition(
    type_: str, reason: str = "", message: str = "", at: str = "2025-01-01T00:01:00Z"
) -> dict[str, Any]:
    """A Job condition that is True (Complete, Failed, FailureTarget, SuccessCriteriaMet)."""
    return {"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": at}


# --- pods -----------------------------------------------------------------------------------


def pod(
    name: str,
    phase: str,
    state: dict[str, Any] | None = None,
    created: str = "2025-01-01T00:00:06Z",
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A render pod in ``phase`` whose container is in ``state`` (see :func:`terminated`,
    :func:`running`, :func:`waiting`; None: no container status yet)."""
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"containers": [{"name": "reelkube", "resources": {"limits": {"memory": "2Gi"}}}]},
        "status": {
            "phase": phase,
            "conditions": conditions or [],
            "containerStatuses": [{"name": "reelkube", "state": state or {}}] if state is not None else [],
        },
    }


def terminated(exit_code: int, message: str = "", reason: str = "Error") -> dict[str, Any]:
    """A container state: ended with ``exit_code`` and a termination ``message``."""
    return {"terminated": {"exitCode": exit_code, "reason": reason, "message": message}}


def running(started_at: str = "2025-01-01T00:00:09Z") -> dict[str, Any]:
    """A container state: running since ``started_at``."""
    return {"running": {"startedAt": started_at}}


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    """A container state: waiting for ``reason`` (ImagePullBackOff, ...)."""
    return {"waiting": {"reason": reason, "message": message}}


def unscheduled(message: str, reason: str = "Unschedulable") -> list[dict[str, Any]]:
    """Pod conditions of a pod the scheduler could not place."""
    return [{"type": "PodScheduled", "status": "False", "reason": reason, "message": message}]


# --- chunked renders --------------------------------------------------------------------------

CHUNK_JOB_NAME = "rj-summer-reel-0123456789-chunks"
MERGE_JOB_NAME = "rj-summer-reel-0123456789-merge"


def chunk_pod(
    name: str,
    index: int,
    phase: str,
    state: dict[str, Any] | None = None,
    *,
    failures: int = 0,
    ignored: int = 0,
    created: str = "2025-01-01T00:00:06Z",
) -> dict[str, Any]:
    """A pod of an Indexed chunk Job: :func:`pod` with its completion index label and the Job
    controller's per-index failure counts (``failures`` counted, ``ignored`` disruptions)."""
    made = pod(name, phase, state, created=created)
    made["metadata"]["labels"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    made["metadata"]["annotations"] = {
        "batch.kubernetes.io/job-completion-index": str(index),
        "batch.kubernetes.io/job-index-failure-count": str(failures),
        "batch.kubernetes.io/job-index-ignored-failure-count": str(ignored),
    }
    return made


def merge_patch(target: Any, patch: Any) -> Any:
    """``patch`` applied to ``target`` as the API server applies a JSON merge patch (RFC 7386)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
