"""S3-compatible storage: object keys, client construction, uploads of outputs, `s3://` inputs."""

from reelkube.storage.keys import check_key, object_key, parse_s3_uri, s3_uri
from reelkube.storage.s3 import UploadedArtifact, download_object, upload_artifact

__all__ = [
    "UploadedArtifact",
    "check_key",
    "download_object",
    "object_key",
    "parse_s3_uri",
    "s3_uri",
    "upload_artifact",
]
