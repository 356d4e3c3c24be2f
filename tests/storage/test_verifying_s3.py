"""The project's S3 server (tests/s3server) refuses what a cloud refuses, and the storage module
works against it: the signature and expiry tests that moto cannot fail."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from reelkube.errors import InputRejected, StorageDenied
from reelkube.storage import object_key, upload_artifact
from reelkube.storage.s3 import download_object
from support.verifying_s3 import VerifyingS3, start_s3server, stop_s3server

UID = "0a1b2c3d-0000-4000-8000-0000000000aa"


def _client(server: VerifyingS3, *, access: str | None = None, secret: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=access or server.access_key_id,
        aws_secret_access_key=secret or server.secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def test_a_wrong_secret_is_refused_with_signature_does_not_match(verifying_s3: VerifyingS3) -> None:
    key = f"t/{os.urandom(4).hex()}/a.txt"
    _client(verifying_s3).put_object(Bucket=verifying_s3.bucket, Key=key, Body=b"right")

    wrong = _client(verifying_s3, secret=verifying_s3.secret_access_key + "x")
    with pytest.raises(ClientError) as read:
        wrong.get_object(Bucket=verifying_s3.bucket, Key=key)
    assert _refusal(read) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as write:
        wrong.put_object(Bucket=verifying_s3.bucket, Key=key, Body=b"overwritten")
    assert _refusal(write) == (403, "SignatureDoesNotMatch")
    # The refused write stored nothing.
    assert _client(verifying_s3).get_object(Bucket=verifying_s3.bucket, Key=key)["Body"].read() == b"right"


def test_an_unknown_key_and_an_unsigned_request_are_refused(verifying_s3: VerifyingS3) -> None:
    stranger = _client(verifying_s3, access="AKIDSTRANGER", secret="whatever")
    with pytest.raises(ClientError) as unknown:
        stranger.list_objects_v2(Bucket=verifying_s3.bucket)
    assert _refusal(unknown) == (403, "InvalidAccessKeyId")

    anonymous = httpx.get(f"{verifying_s3.endpoint_url}/{verifying_s3.bucket}/anything", timeout=10)
    assert anonymous.status_code == 403
    assert "<Code>AccessDenied</Code>" in anonymous.text


def test_a_presigned_url_works_until_it_expires(verifying_s3: VerifyingS3) -> None:
    client = _client(verifying_s3)
    key = f"t/{os.urandom(4).hex()}/clip.bin"
    data = os.urandom(2048)
    client.put_object(Bucket=verifying_s3.bucket, Key=key, Body=data)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": verifying_s3.bucket, "Key": key}, ExpiresIn=3
    )
    signed_at = time.monotonic()

    valid = httpx.get(url, timeout=10)
    assert valid.status_code == 200, valid.text
    assert valid.content == data
    assert time.monotonic() - signed_at < 2, "the machine was too slow to try the URL before it expired"

    time.sleep(max(0.0, signed_at + 4.2 - time.monotonic()))
    expired = httpx.get(url, timeout=10)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text and "Request has expired" in expired.text


def test_a_tampered_presigned_url_is_refused(verifying_s3: VerifyingS3) -> None:
    client = _client(verifying_s3)
    for name in ("a.txt", "b.txt"):
        client.put_object(Bucket=verifying_s3.bucket, Key=f"tamper/{name}", Body=name.encode())
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": verifying_s3.bucket, "Key": "tamper/a.txt"}, ExpiresIn=600
    )
    assert httpx.get(url, timeout=10).status_code == 200

    tampered = {
        "another key": url.replace("/tamper/a.txt?", "/tamper/b.txt?"),
        "a longer expiry": url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),
        "another signature": url[:-1] + ("0" if url[-1] != "0" else "1"),
        "a forged key id": url.replace(
            f"X-Amz-Credential={verifying_s3.access_key_id}", "X-Amz-Credential=AKIDX"
        ),
    }
    for what, forged in tampered.items():
        response = httpx.get(forged, timeout=10)
        assert response.status_code == 403, f"{what}: {response.status_code} {response.text[:300]}"
        assert "<Code>SignatureDoesNotMatch</Code>" in response.text or (
            what == "a forged key id" and "<Code>InvalidAccessKeyId</Code>" in response.text
        ), f"{what}: {response.text[:300]}"


def test_a_body_other_than_the_signed_one_is_refused_and_not_stored(verifying_s3: VerifyingS3) -> None:
    key = f"t/{os.urandom(4).hex()}/body.txt"
    url = f"{verifying_s3.endpoint_url}/{verifying_s3.bucket}/{key}"
    signed_body = b"the body that was signed"
    request = AWSRequest(
        method="PUT",
        url=url,
        data=signed_body,
        headers={"x-amz-content-sha256": hashlib.sha256(signed_body).hexdigest()},
    )
    S3SigV4Auth(
        Credentials(verifying_s3.access_key_id, verifying_s3.secret_access_key), "s3", verifying_s3.region
    ).add_auth(request)
    headers = {name: value for name, value in request.headers.items()}

    swapped = httpx.put(url, content=b"a different body, same size!", headers=headers, timeout=10)
    assert swapped.status_code == 400
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in swapped.text
    with pytest.raises(ClientError) as missing:
        _client(verifying_s3).head_object(Bucket=verifying_s3.bucket, Key=key)
    assert _refusal(missing)[0] == 404

    # The same signed headers with the signed body: stored.
    assert httpx.put(url, content=signed_body, headers=headers, timeout=10).status_code == 200
    stored = _client(verifying_s3).get_object(Bucket=verifying_s3.bucket, Key=key)["Body"].read()
    assert stored == signed_body


def test_the_storage_module_uploads_presigns_and_downloads(
    verifying_s3_env: VerifyingS3, tmp_path: Path
) -> None:
    storage = verifying_s3_env.storage_spec(presignExpirySeconds=600)
    # Over the 5 MiB multipart threshold given below: a multipart upload of two parts.
    data = os.urandom(6 * 1024 * 1024 + 123)
    (tmp_path / "video.mp4").write_bytes(data)
    key = object_key(storage.prefix, "media", "promo", UID, "video.mp4")

    artifact = upload_artifact(
        tmp_path / "video.mp4",
        storage=storage,
        key=key,
        content_type="video/mp4",
        multipart_threshold=5 * 1024 * 1024,
    )

    assert artifact.sha256 == hashlib.sha256(data).hexdigest() and artifact.size == len(data)
    response = httpx.get(artifact.url, timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == artifact.sha256
    assert response.headers["content-type"] == "video/mp4"
    # An s3:// input read back through the module (HEAD, then a GET pinned to the ETag).
    fetched = download_object(
        artifact.uri, tmp_path / "in" / "video.mp4", max_bytes=len(data), timeout=30, storage=storage
    )
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == artifact.sha256


def test_the_storage_module_reports_refused_credentials(
    verifying_s3_env: VerifyingS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = verifying_s3_env.storage_spec()
    (tmp_path / "a.txt").write_bytes(b"x")
    verifying_s3_env.put(f"{storage.prefix}/input.txt", b"input")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("REELKUBE_S3_MAX_ATTEMPTS", "1")

    with pytest.raises(StorageDenied, match="SignatureDoesNotMatch"):
        upload_artifact(
            tmp_path / "a.txt", storage=storage, key=f"{storage.prefix}/a.txt", content_type="text/plain"
        )
    with pytest.raises(InputRejected, match="SignatureDoesNotMatch|403"):
        download_object(
            f"s3://{verifying_s3_env.bucket}/{storage.prefix}/input.txt",
            tmp_path / "in.txt",
            max_bytes=100,
            timeout=10,
            storage=storage,
        )


def test_objects_survive_a_restart_on_the_same_data_folder(verifying_s3: VerifyingS3, tmp_path: Path) -> None:
    # The chart's embedded storage keeps its folder on a PVC: a new pod must find the objects.
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    keys = {"access_key": "restart-key", "secret_key": "restart-secret", "buckets": "kept-bucket"}
    proc, endpoint = start_s3server(verifying_s3.binary, data_dir, log, **keys)
    server = VerifyingS3(endpoint, verifying_s3.region, "restart-key", "restart-secret", "kept-bucket")
    try:
        server.put("a/b/kept.txt", b"still here")
    finally:
        stop_s3server(proc)
    proc, endpoint = start_s3server(verifying_s3.binary, data_dir, log, **keys)
    server.endpoint_url = endpoint
    try:
        assert server.get("a/b/kept.txt") == b"still here"
        assert server.list_keys("a/") == ["a/b/kept.txt"]
        assert server.list_keys("nothing-here/") == []
    finally:
        stop_s3server(proc)


def _chunked_upload(server: VerifyingS3, key: str, chunks: list[bytes], *, tamper: int | None = None) -> Any:
    """PUT ``chunks`` as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload (as the AWS SDKs for Java and
    Go send over plain HTTP), each chunk signed and chained to the previous signature;
    ``tamper``: flip a byte of that chunk after signing it."""
    import hmac
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{server.region}/s3/aws4_request"
    body_length = sum(len(c) for c in chunks)
    signatures_length = sum(len(f"{len(c):x};chunk-signature=") + 64 + 4 + len(c) for c in [*chunks, b""])
    url = f"{server.endpoint_url}/{server.bucket}/{key}"
    headers = {
        "content-encoding": "aws-chunked",
        "content-length": str(signatures_length),
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(body_length),
    }

    def sign(key_bytes: bytes, text: str) -> bytes:
        return hmac.new(key_bytes, text.encode(), hashlib.sha256).digest()

    signing_key = ("AWS4" + server.secret_access_key).encode()
    for part in (day, server.region, "s3", "aws4_request"):
        signing_key = sign(signing_key, part)
    # The seed: the request's own signature (botocore's signer would hash the payload instead).
    headers["host"] = url.split("/")[2]
    names = sorted(headers)
    canonical = "\n".join(
        ["PUT", f"/{server.bucket}/{key}", "", *(f"{n}:{headers[n]}" for n in names), "", ";".join(names),
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]
    )  # fmt: skip
    seed_text = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    seed = sign(signing_key, seed_text).hex()
    credential = f"{server.access_key_id}/{scope}"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credential},SignedHeaders={';'.join(names)},Signature={seed}"
    )
    body, previous = b"", seed
    for index, chunk in enumerate([*chunks, b""]):
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, hashlib.sha256(b"").hexdigest(),
             hashlib.sha256(chunk).hexdigest()]
        )  # fmt: skip
        previous = sign(signing_key, to_sign).hex()
        sent = bytes([chunk[0] ^ 1]) + chunk[1:] if index == tamper else chunk
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    return httpx.put(url, content=body, headers=headers, timeout=30)


def test_a_chunk_signed_upload_is_stored_decoded_and_a_tampered_chunk_is_refused(
    verifying_s3: VerifyingS3,
) -> None:
    chunks = [os.urandom(64 * 1024), os.urandom(1000)]
    key = f"t/{os.urandom(4).hex()}/chunked.bin"

    tampered = _chunked_upload(verifying_s3, key, chunks, tamper=1)
    assert tampered.status_code == 403 and "SignatureDoesNotMatch" in tampered.text
    with pytest.raises(ClientError):
        _client(verifying_s3).head_object(Bucket=verifying_s3.bucket, Key=key)

    stored = _chunked_upload(verifying_s3, key, chunks)
    assert stored.status_code == 200, stored.text
    got = _client(verifying_s3).get_object(Bucket=verifying_s3.bucket, Key=key)
    assert got["Body"].read() == b"".join(chunks)
    assert "aws-chunked" not in got.get("ContentEncoding", "")
