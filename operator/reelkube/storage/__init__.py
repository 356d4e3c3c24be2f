"""S3-compatible storage: object keys, client construction, uploads of outputs, `s3://` inputs.

The boto3 side (`reelkube.storage.s3`) is imported on first use: the key and tenancy rules are
needed by every render, boto3 (about 0.15 s to import) only by those that touch S3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reelkube.storage.keys import check_key, object_key, parse_s3_uri, s3_uri

if TYPE_CHECKING:
    from reelkube.storage.s3 import UploadedArtifact, download_object, upload_artifact

_FROM_S3 = {"UploadedArtifact", "download_object", "upload_artifact"}


def __getattr__(name: str) -> Any:
    if name in _FROM_S3:
        return getattr(importlib.import_module("reelkube.storage.s3"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "UploadedArtifact",
    "check_key",
    "download_object",
    "object_key",
    "parse_s3_uri",
    "s3_uri",
    "upload_artifact",
]
