"""Uploading outputs to, and downloading `s3://` inputs from, S3-compatible storage."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from reelkube.api.common import StorageSpec
from reelkube.api.status import OutputArtifact
from reelkube.downloads import write_bounded
from reelkube.errors import (
    InputError,
    InputNotFound,
    InputRejected,
    InputTimeout,
    InputTooLarge,
    StorageDenied,
    StorageFailed,
)
from reelkube.storage.client import make_s3_client, resolve_endpoint
from reelkube.storage.keys import check_key, parse_s3_uri, s3_uri

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD_ENV = "REELKUBE_S3_MULTIPART_THRESHOLD"
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (the last one aside)
MAX_PART_SIZE = 16 * 1024 * 1024
DOWNLOAD_CHUNK = 1024 * 1024
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}


@dataclass(frozen=True)
class UploadedArtifact:
    """One object written to storage, with a presigned GET URL."""

    bucket: str
    key: str
    url: str
    expires_at: datetime
    size: int
    sha256: str
    content_type: str
    etag: str | None = None

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return s3_uri(self.bucket, self.key)

    def to_status(
        self, *, duration: float | None = None, width: int | None = None, height: int | None = None
    ) -> OutputArtifact:
        """The status form (``status.outputs[name]``), with optional media facts."""
        return OutputArtifact(
            uri=self.uri,
            url=self.url,
            expiresAt=rfc3339(self.expires_at),
            size=self.size,
            sha256=self.sha256,
            contentType=self.content_type,
            duration=duration,
            width=width,
            height=height,
        )


def rfc3339(moment: datetime) -> str:
    """UTC timestamp as ``2024-05-01T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _HashingReader:
    """Reads a file once, front to back, hashing and counting as it goes.

    It deliberately offers no ``seek``: s3transfer then reads it sequentially and keeps each
    part in memory for its own retries, so the hash sees every byte exactly once."""

    def __init__(self, raw: IO[bytes], on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, amount: int = -1) -> bytes:
        data = self._raw.read(amount)
        self.digest.update(data)
        self.size += len(data)
        if data and self._on_bytes is not None:
            self._on_bytes(self.size)
        return data


def _client_error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _storage_failure(exc: BaseException, *, bucket: str, endpoint: str | None) -> StorageFailed:
    """A StorageFailed with a message a user can act on (botocore's texts carry no secrets)."""
    where = endpoint or "AWS S3"
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__
    code = _client_error_code(exc)
    if code in ("NoSuchBucket", "404"):
        return StorageFailed(f"bucket {bucket!r} does not exist at {where}")
    if code in _DENIED_CODES:
        return StorageDenied(f"storage at {where} refused the credentials for bucket {bucket!r} ({code})")
    if isinstance(exc, NoCredentialsError):
        return StorageDenied(
            "no storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or REELKUBE_S3_CREDENTIALS_DIR"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return StorageFailed(f"cannot reach storage endpoint {where}")
    return StorageFailed(f"storage error at {where} for bucket {bucket!r}: {exc}")


def multipart_threshold_from_env() -> int:
    """``REELKUBE_S3_MULTIPART_THRESHOLD`` (bytes) or the default of 64 MiB."""
    value = os.environ.get(MULTIPART_THRESHOLD_ENV)
    return int(value) if value else DEFAULT_MULTIPART_THRESHOLD


def upload_artifact(
    path: Path,
    *,
    storage: StorageSpec,
    key: str,
    content_type: str,
    multipart_threshold: int | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> UploadedArtifact:
    """Upload ``path`` to ``storage.bucket`` at ``key`` (see ``object_key``) and presign a GET.

    Files of ``multipart_threshold`` bytes or more (default: ``multipart_threshold_from_env()``)
    go up as a multipart upload, in parts of the threshold's size (5 to 16 MiB). The SHA-256
    is computed while the file is read for the upload.
    ``on_bytes`` gets the number of bytes read so far. Raises StorageFailed."""
    check_key(key)
    threshold = multipart_threshold if multipart_threshold is not None else multipart_threshold_from_env()
    transfer = TransferConfig(
        multipart_threshold=threshold,
        # Parts the threshold's size, within S3's floor and a bound on memory per part.
        multipart_chunksize=min(max(threshold, MIN_PART_SIZE), MAX_PART_SIZE),
        max_concurrency=4,
        use_threads=True,
    )
    endpoint = resolve_endpoint(storage)
    started = time.monotonic()
    log.info("upload starting bucket=%s key=%s endpoint=%s", storage.bucket, key, endpoint or "aws")
    try:
        client = make_s3_client(storage)
        with path.open("rb") as raw:
            reader = _HashingReader(raw, on_bytes)
            client.upload_fileobj(
                reader, storage.bucket, key, ExtraArgs={"ContentType": content_type}, Config=transfer
            )
        head = client.head_object(Bucket=storage.bucket, Key=key)
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": storage.bucket, "Key": key},
            ExpiresIn=storage.presignExpirySeconds,
        )
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        failure = _storage_failure(exc, bucket=storage.bucket, endpoint=endpoint)
        log.warning("upload failed bucket=%s key=%s reason=%s", storage.bucket, key, failure.message)
        raise failure from None
    except OSError as exc:
        raise StorageFailed(f"cannot read {path}: {exc.strerror}") from None
    expires_at = datetime.now(UTC) + timedelta(seconds=storage.presignExpirySeconds)
    if head.get("ContentLength") != reader.size:
        raise StorageFailed(
            f"stored object s3://{storage.bucket}/{key} has {head.get('ContentLength')} bytes, "
            f"{reader.size} were sent"
        )
    artifact = UploadedArtifact(
        bucket=storage.bucket,
        key=key,
        url=url,
        expires_at=expires_at,
        size=reader.size,
        sha256=reader.digest.hexdigest(),
        content_type=content_type,
        etag=str(head.get("ETag", "")).strip('"') or None,
    )
    log.info(
        "upload done bucket=%s key=%s size=%d sha256=%s seconds=%.2f",
        storage.bucket,
        key,
        artifact.size,
        artifact.sha256,
        time.monotonic() - started,
    )
    return artifact


def _input_failure(exc: BaseException, uri: str, timeout: float, endpoint: str | None) -> InputError:
    code = _client_error_code(exc)
    if code in _NOT_FOUND_CODES:
        return InputNotFound(f"{uri} does not exist (no such bucket or object)")
    if code in _DENIED_CODES:
        return InputRejected(f"storage refused access to {uri} ({code})")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return InputTimeout(f"downloading {uri} took longer than {timeout:g} s")
    if isinstance(exc, EndpointConnectionError):
        return InputError(f"cannot reach storage endpoint {endpoint or 'AWS S3'} for {uri}")
    if isinstance(exc, NoCredentialsError):
        return InputRejected(f"no storage credentials to read {uri}")
    return InputError(f"cannot download {uri}: {exc}")


def download_object(
    uri: str, dest: Path, *, max_bytes: int, timeout: float, storage: StorageSpec | None
) -> Path:
    """Download ``s3://bucket/key`` to ``dest`` and return ``dest``.

    HEAD first: an object over ``max_bytes`` is refused before any byte is fetched
    (InputTooLarge). ``timeout`` bounds the whole download (InputTimeout). A missing bucket or
    object raises InputNotFound; other failures InputError. The endpoint is ``storage``'s if
    given, else ``REELKUBE_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL``. ``dest`` appears only complete."""
    bucket, key = parse_s3_uri(uri)
    endpoint = resolve_endpoint(storage)
    deadline = time.monotonic() + timeout
    part = dest.with_name(dest.name + ".part")
    try:
        client = make_s3_client(storage, connect_timeout=timeout, read_timeout=timeout, max_attempts=2)
        head = client.head_object(Bucket=bucket, Key=key)
        size = int(head.get("ContentLength", 0))
        if size > max_bytes:
            raise InputTooLarge(f"{uri} is {size} bytes, over the limit of {max_bytes} bytes")
        # IfMatch pins the object the HEAD saw, so a concurrent overwrite fails cleanly.
        extra = {"IfMatch": head["ETag"]} if head.get("ETag") else {}
        response = client.get_object(Bucket=bucket, Key=key, **extra)
        dest.parent.mkdir(parents=True, exist_ok=True)
        chunks = response["Body"].iter_chunks(DOWNLOAD_CHUNK)
        written = write_bounded(
            chunks, part, source=uri, max_bytes=max_bytes, deadline=deadline, timeout=timeout
        )
        part.replace(dest)
    except (BotoCoreError, ClientError) as exc:
        part.unlink(missing_ok=True)
        raise _input_failure(exc, uri, timeout, endpoint) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    log.info("input downloaded uri=%s bytes=%d dest=%s", uri, written, dest)
    return dest
