"""Sample resources for the operator's unit tests (plain dicts, as the API server returns them)."""

from __future__ import annotations

import copy
from typing import Any

from reelkube.api.kinds import RENDER_JOB, TTS_JOB, Resource

UID = "0b7c2a4e-1f7e-4d6b-9a51-3f3c8f0e2d11"

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


def render_body(**spec: Any) -> dict[str, Any]:
    """RENDER_BODY with ``spec`` fields replaced (a deep copy)."""
    body = copy.deepcopy(RENDER_BODY)
    body["spec"].update(spec)
    return body


def render_job(**spec: Any) -> Resource:
    return RENDER_JOB.parse(render_body(**spec))


def tts_job(**spec: Any) -> Resource:
    body = copy.deepcopy(TTS_BODY)
    body["spec"].update(spec)
    return TTS_JOB.parse(body)
