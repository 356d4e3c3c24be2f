"""Outputs of a run: upload each file and describe it for ``status.outputs``.

A RenderJob's render (``render_job``) and a TTSJob's narration (``run_tts_job``) both return
``outputs: dict[name, LocalArtifact]`` with the file's path, content type, size, SHA-256 and
media facts; here each is uploaded under the resource's deterministic key prefix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from reelkube.api.common import StorageSpec
from reelkube.api.status import OutputArtifact
from reelkube.engine.artifacts import LocalArtifact
from reelkube.errors import ReelkubeError, StorageFailed

log = logging.getLogger(__name__)


def output_artifacts(result: Any) -> dict[str, LocalArtifact]:
    """The ``outputs`` of a RenderResult or TTSResult."""
    outputs = getattr(result, "outputs", None)
    if not outputs:
        raise ReelkubeError("the render produced no outputs", reason="InternalError")
    return dict(outputs)


def upload_outputs(
    artifacts: Mapping[str, LocalArtifact],
    *,
    storage: StorageSpec,
    namespace: str,
    name: str,
    uid: str,
    on_fraction: Callable[[float], None] | None = None,
) -> dict[str, OutputArtifact]:
    """Upload every file under ``<prefix>/<namespace>/<name>-<uid8>/``; StorageFailed on error.

    A retried pod writes the same keys, so a retry overwrites rather than duplicates.
    """
    from reelkube.storage import object_key, upload_artifact

    total = sum(a.size for a in artifacts.values()) or 1
    done = 0
    statuses: dict[str, OutputArtifact] = {}
    for artifact_name, artifact in artifacts.items():
        if not artifact.path.is_file():
            raise StorageFailed(f"output {artifact_name} ({artifact.path}) was not written")
        key = object_key(storage.prefix, namespace, name, uid, artifact.path.name)

        def progress(sent: int, base: int = done) -> None:
            if on_fraction is not None:
                on_fraction(min(1.0, (base + sent) / total))

        uploaded = upload_artifact(
            artifact.path, storage=storage, key=key, content_type=artifact.content_type, on_bytes=progress
        )
        done += uploaded.size
        statuses[artifact_name] = uploaded.to_status(
            duration=artifact.duration, width=artifact.width, height=artifact.height
        )
        log.info(
            "event=uploaded resource=%s/%s output=%s uri=%s size=%d",
            namespace, name, artifact_name, uploaded.uri, uploaded.size,
        )  # fmt: skip
    return statuses


def local_outputs(artifacts: Mapping[str, LocalArtifact]) -> dict[str, OutputArtifact]:
    """Outputs left on disk (no storage configured, e.g. outside a cluster)."""
    return {name: artifact.to_status() for name, artifact in artifacts.items()}
