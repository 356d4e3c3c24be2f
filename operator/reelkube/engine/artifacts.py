"""A file a render or a narration wrote, described for `status.outputs`: size, SHA-256,
content type and, for media, duration and frame size."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelkube.api.status import OutputArtifact
from reelkube.engine.probe import probe_media
from reelkube.errors import InputUnreadable

log = logging.getLogger(__name__)

# Types Python's mimetypes gets wrong or lacks (it calls .ass "audio/aac").
CONTENT_TYPES_BY_SUFFIX = {
    ".ass": "text/x-ssa", ".ssa": "text/x-ssa", ".srt": "application/x-subrip", ".vtt": "text/vtt",
    ".json": "application/json", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
}  # fmt: skip


@dataclass(frozen=True)
class LocalArtifact:
    """One file written by a render, with what a status needs to describe it."""

    path: Path
    content_type: str
    size: int
    sha256: str
    duration: float | None = None
    width: int | None = None
    height: int | None = None

    def to_status(self) -> OutputArtifact:
        """The status form, with the local path as its URI."""
        return OutputArtifact(
            uri=str(self.path), size=self.size, sha256=self.sha256, contentType=self.content_type,
            duration=self.duration, width=self.width, height=self.height,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description (`--json` output); media facts only where known."""
        facts = {"duration": self.duration, "width": self.width, "height": self.height}
        return {
            "path": str(self.path), "contentType": self.content_type,
            "size": self.size, "sha256": self.sha256,
            **{key: value for key, value in facts.items() if value is not None},
        }  # fmt: skip


@dataclass(frozen=True)
class MediaFacts:
    """What a probe would say of a media file, when the caller already knows it."""

    duration: float | None
    width: int | None
    height: int | None


def describe_file(
    path: Path, content_type: str | None = None, *, facts: MediaFacts | None = None
) -> LocalArtifact:
    """Size, SHA-256, MIME type and (for media) duration and frame size of a file: probed, unless
    the caller gives the ``facts`` (a still the render made at a size it knows)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    ctype = (
        content_type
        or CONTENT_TYPES_BY_SUFFIX.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )
    duration = width = height = None
    if facts is not None:
        duration, width, height = facts.duration, facts.width, facts.height
    elif ctype.split("/")[0] in ("video", "audio", "image"):
        try:
            info = probe_media(path)
            duration, width, height = info.duration, info.width, info.height
        except InputUnreadable:
            log.warning("event=probe_failed path=%s", path)
    return LocalArtifact(path=path, content_type=ctype, size=path.stat().st_size, sha256=digest.hexdigest(),
                         duration=duration, width=width, height=height)  # fmt: skip
