"""Outputs of a render: upload each file and describe it for ``status.outputs``."""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reelkube.api.common import StorageSpec
from reelkube.api.status import OutputArtifact
from reelkube.errors import ReelkubeError, StorageFailed

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".gif": "image/gif",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".ass": "text/x-ssa",
    ".json": "application/json",
}
_MEDIA_PREFIXES = ("video/", "audio/", "image/")


def content_type_of(path: Path) -> str:
    """MIME type from the file's extension (octet-stream when unknown)."""
    return (
        CONTENT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def default_storage_from_env(env: Mapping[str, str] | None = None) -> StorageSpec | None:
    """The operator's default storage, passed to the pod as ``REELKUBE_STORAGE_*`` variables;
    None when no bucket is configured."""
    env = os.environ if env is None else env
    bucket = env.get("REELKUBE_STORAGE_BUCKET")
    if not bucket:
        return None
    return StorageSpec(
        bucket=bucket,
        prefix=env.get("REELKUBE_STORAGE_PREFIX") or "reelkube",
        endpointUrl=env.get("REELKUBE_STORAGE_ENDPOINT") or None,
        region=env.get("REELKUBE_STORAGE_REGION") or "us-east-1",
        pathStyle=(env.get("REELKUBE_STORAGE_PATH_STYLE") or "true").lower() == "true",
        presignExpirySeconds=int(env.get("REELKUBE_PRESIGN_EXPIRY_SECONDS") or 86400),
    )


def output_files(result: Any) -> dict[str, Path]:
    """Name -> file from what the engine returned: a mapping, or an object with ``outputs``
    (whose values are paths or objects with a ``path``)."""
    outputs = result if isinstance(result, Mapping) else getattr(result, "outputs", None)
    if outputs is None:
        raise ReelkubeError("the engine returned no outputs", reason="InternalError")
    files: dict[str, Path] = {}
    for name, value in dict(outputs).items():
        path = getattr(value, "path", value)
        if path is None:
            raise ReelkubeError(f"the engine returned no file for output {name}", reason="InternalError")
        files[str(name)] = Path(path)
    return files


def media_facts(path: Path, content_type: str) -> dict[str, Any]:
    """Duration, width and height of a media file (empty for subtitles and JSON)."""
    if not content_type.startswith(_MEDIA_PREFIXES):
        return {}
    from reelkube.engine.probe import probe_media

    try:
        info = probe_media(path)
    except ReelkubeError as exc:
        log.warning("event=probe_failed path=%s error=%s", path, exc)
        return {}
    return {
        "duration": round(info.duration, 3) if info.duration and not info.is_still else None,
        "width": info.width,
        "height": info.height,
    }


def upload_outputs(
    files: Mapping[str, Path],
    *,
    storage: StorageSpec,
    namespace: str,
    name: str,
    uid: str,
    on_fraction: Callable[[float], None] | None = None,
) -> dict[str, OutputArtifact]:
    """Upload every file under the resource's deterministic key prefix; StorageFailed on error."""
    from reelkube.storage import object_key, upload_artifact

    total = sum(p.stat().st_size for p in files.values()) or 1
    done = 0
    artifacts: dict[str, OutputArtifact] = {}
    for artifact_name, path in files.items():
        if not path.is_file():
            raise StorageFailed(f"output {artifact_name} ({path}) was not written")
        content_type = content_type_of(path)
        key = object_key(storage.prefix, namespace, name, uid, path.name)
        base = done

        def progress(sent: int, base: int = base) -> None:
            if on_fraction is not None:
                on_fraction(min(1.0, (base + sent) / total))

        uploaded = upload_artifact(
            path, storage=storage, key=key, content_type=content_type, on_bytes=progress
        )
        done += uploaded.size
        artifacts[artifact_name] = uploaded.to_status(**media_facts(path, content_type))
        log.info(
            "event=uploaded resource=%s/%s output=%s uri=%s size=%d",
            namespace,
            name,
            artifact_name,
            uploaded.uri,
            uploaded.size,
        )
    return artifacts


def local_outputs(files: Mapping[str, Path]) -> dict[str, OutputArtifact]:
    """Outputs left on disk (no storage configured, outside a cluster)."""
    artifacts: dict[str, OutputArtifact] = {}
    for artifact_name, path in files.items():
        content_type = content_type_of(path)
        artifacts[artifact_name] = OutputArtifact(
            uri=str(path.resolve()),
            size=path.stat().st_size,
            contentType=content_type,
            **media_facts(path, content_type),
        )
    return artifacts
