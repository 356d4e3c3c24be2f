"""Uploads against a real S3 server (the SigV4-verifying reelkube-s3server on loopback)."""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reelkube.errors import StorageFailed
from reelkube.storage import object_key, upload_artifact
from reelkube.storage.client import credentials_from_environment
from support.s3 import VerifyingS3

UID = "0a1b2c3d-0000-4000-8000-000000000001"


def _write(path: Path, size: int) -> bytes:
    # Random content: a misplaced or repeated part would change the hash.
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_upload_then_presigned_download_returns_the_same_bytes(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec(presignExpirySeconds=600)
    data = _write(tmp_path / "video.mp4", 150_000)
    key = object_key(storage.prefix, "media", "promo", UID, "video.mp4")

    before = datetime.now(UTC)
    artifact = upload_artifact(tmp_path / "video.mp4", storage=storage, key=key, content_type="video/mp4")

    assert artifact.uri == f"s3://{s3_server.bucket}/{key}"
    assert artifact.size == len(data)
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert 590 <= (artifact.expires_at - before).total_seconds() <= 610
    response = httpx.get(artifact.url, timeout=10)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == artifact.sha256
    assert response.headers["content-type"] == "video/mp4"
    assert "X-Amz-Signature=" in artifact.url and "X-Amz-Expires=600" in artifact.url


def test_presigned_url_is_refused_once_tampered(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    _write(tmp_path / "a.txt", 10)
    artifact = upload_artifact(
        tmp_path / "a.txt", storage=storage, key=f"{storage.prefix}/a.txt", content_type="text/plain"
    )
    other_key = artifact.url.replace("/a.txt?", "/b.txt?")
    assert httpx.get(artifact.url, timeout=10).status_code == 200
    # The signature covers the path: another key with the same query is a forgery.
    refused = httpx.get(other_key, timeout=10)
    assert refused.status_code == 403 and "SignatureDoesNotMatch" in refused.text, refused.text


def test_to_status_carries_media_facts(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    _write(tmp_path / "v.mp4", 1000)
    artifact = upload_artifact(
        tmp_path / "v.mp4", storage=storage, key=f"{storage.prefix}/v.mp4", content_type="video/mp4"
    )
    status = artifact.to_status(duration=10.0, width=1080, height=1920)
    assert status.uri == artifact.uri and status.url == artifact.url
    assert status.sha256 == artifact.sha256 and status.size == 1000
    assert status.contentType == "video/mp4"
    assert (status.duration, status.width, status.height) == (10.0, 1080, 1920)
    assert status.expiresAt is not None and status.expiresAt.endswith("Z")
    datetime.strptime(status.expiresAt, "%Y-%m-%dT%H:%M:%SZ")


def test_large_file_goes_up_as_multipart(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    # S3 parts are at least 5 MiB (s3transfer enforces it too): 6 MiB makes two parts.
    data = _write(tmp_path / "big.mp4", 6 * 1024 * 1024)
    seen: list[int] = []
    artifact = upload_artifact(
        tmp_path / "big.mp4",
        storage=storage,
        key=f"{storage.prefix}/big.mp4",
        content_type="video/mp4",
        multipart_threshold=1024 * 1024,
        on_bytes=seen.append,
    )
    if isinstance(s3_server, VerifyingS3):
        # Our server's access log names each operation: one initiate, two parts, one complete.
        # (Its filesystem backend gives the assembled object a plain MD5 ETag, not S3's
        # "<md5 of part md5s>-<part count>", and knows no HEAD ?partNumber.)
        # The parts go up concurrently, in either order.
        made = s3_server.requests(f"/{s3_server.bucket}/{artifact.key}")
        assert [made[0], sorted(made[1:3]), *made[3:]] == [
            "POST ?uploads 200",
            ["PUT ?partNumber=1&uploadId 200", "PUT ?partNumber=2&uploadId 200"],
            "POST ?uploadId 200",
            "HEAD 200",
        ], made
    else:
        # A multipart object's ETag on S3 is "<md5 of part md5s>-<part count>".
        assert artifact.etag is not None and artifact.etag.endswith("-2"), artifact.etag
        head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=artifact.key, PartNumber=1)
        assert head["PartsCount"] == 2
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(s3_server.get(artifact.key)).hexdigest() == artifact.sha256
    assert seen and seen[-1] == len(data)


def test_small_file_is_a_single_put(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    _write(tmp_path / "s.bin", 2048)
    artifact = upload_artifact(
        tmp_path / "s.bin",
        storage=storage,
        key=f"{storage.prefix}/s.bin",
        content_type="application/octet-stream",
    )
    assert artifact.etag is not None and "-" not in artifact.etag


def test_reupload_overwrites_instead_of_duplicating(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    key = object_key(storage.prefix, "ns", "job", UID, "video.mp4")
    _write(tmp_path / "first.mp4", 500)
    second = _write(tmp_path / "second.mp4", 700)
    upload_artifact(tmp_path / "first.mp4", storage=storage, key=key, content_type="video/mp4")
    again = upload_artifact(tmp_path / "second.mp4", storage=storage, key=key, content_type="video/mp4")
    assert s3_server.list_keys(prefix=f"{storage.prefix}/") == [key]
    assert s3_server.get(key) == second
    assert again.size == 700


def test_missing_bucket_is_storage_failed(s3_server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec().model_copy(update={"bucket": "no-such-bucket-here"})
    _write(tmp_path / "a.bin", 10)
    with pytest.raises(StorageFailed, match="no-such-bucket-here.*does not exist"):
        upload_artifact(tmp_path / "a.bin", storage=storage, key="p/a.bin", content_type="x/y")


def test_unreachable_endpoint_is_storage_failed(
    s3_server, tmp_path: Path, closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELKUBE_S3_MAX_ATTEMPTS", "2")  # retries against a closed port only cost time
    storage = s3_server.storage_spec().model_copy(update={"endpointUrl": closed_port_url})
    _write(tmp_path / "a.bin", 10)
    with pytest.raises(StorageFailed, match="cannot reach storage endpoint"):
        upload_artifact(tmp_path / "a.bin", storage=storage, key="p/a.bin", content_type="x/y")


def test_escaping_key_is_refused_before_any_request(s3_server, tmp_path: Path) -> None:
    from reelkube.errors import SpecError

    _write(tmp_path / "a.bin", 10)
    with pytest.raises(SpecError):
        upload_artifact(
            tmp_path / "a.bin", storage=s3_server.storage_spec(), key="p/../../a.bin", content_type="x/y"
        )


def test_no_credentials_is_storage_failed(s3_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # Close boto3's other sources so the test does not depend on the machine.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _write(tmp_path / "a.bin", 10)
    with pytest.raises(StorageFailed, match="no storage credentials"):
        upload_artifact(
            tmp_path / "a.bin", storage=s3_server.storage_spec(), key="p/a.bin", content_type="x/y"
        )


def test_credentials_from_mounted_secret_files(
    s3_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The server's own key pair (it verifies signatures), read from files as a mounted Secret.
    secret = s3_server.secret_access_key
    mount = tmp_path / "secret"
    mount.mkdir()
    (mount / "AWS_ACCESS_KEY_ID").write_text(s3_server.access_key_id + "\n")
    (mount / "AWS_SECRET_ACCESS_KEY").write_text(secret + "\n")
    monkeypatch.setenv("REELKUBE_S3_CREDENTIALS_DIR", str(mount))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    credentials = credentials_from_environment()
    assert credentials is not None and credentials.access_key_id == s3_server.access_key_id
    assert credentials.secret_access_key == secret
    assert secret not in repr(credentials)

    _write(tmp_path / "a.bin", 64_000)
    storage = s3_server.storage_spec()
    with caplog.at_level(logging.DEBUG):
        upload_artifact(
            tmp_path / "a.bin",
            storage=storage,
            key=f"{storage.prefix}/a.bin",
            content_type="x/y",
            multipart_threshold=1024,
        )
    assert any("upload done" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("botocore") for r in caplog.records), "botocore DEBUG logs were not captured"
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()


def test_credentials_directory_missing_a_file_is_storage_failed(
    s3_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "AWS_ACCESS_KEY_ID").write_text("only-the-id")
    monkeypatch.setenv("REELKUBE_S3_CREDENTIALS_DIR", str(tmp_path))
    _write(tmp_path / "a.bin", 10)
    with pytest.raises(StorageFailed, match="no file AWS_SECRET_ACCESS_KEY"):
        upload_artifact(
            tmp_path / "a.bin", storage=s3_server.storage_spec(), key="p/a.bin", content_type="x/y"
        )


def test_empty_file_uploads(s3_server, tmp_path: Path) -> None:
    (tmp_path / "empty.srt").write_bytes(b"")
    storage = s3_server.storage_spec()
    artifact = upload_artifact(
        tmp_path / "empty.srt", storage=storage, key=f"{storage.prefix}/e.srt", content_type="text/plain"
    )
    assert artifact.size == 0 and artifact.sha256 == hashlib.sha256(b"").hexdigest()
    assert s3_server.get(artifact.key) == b""
