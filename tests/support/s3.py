"""A real S3-protocol server for tests: moto's standalone server, or one named by the environment.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

s3_server   session: moto's standalone server on 127.0.0.1 (or the server named by
            ``REELKUBE_S3_ENDPOINT_URL``), a fresh bucket, and the AWS_* /
            REELKUBE_S3_ENDPOINT_URL environment pointing at it for the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from reelkube.api.common import StorageSpec
from support.network import free_port

TEST_ACCESS_KEY = "reelkube-test-access"
TEST_SECRET_KEY = "reelkube-test-secret"  # moto accepts any key pair
TEST_REGION = "us-east-1"


@dataclass
class S3Server:
    """A running S3 server and the bucket the session owns there."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str

    def client(self) -> Any:
        """A plain boto3 client for assertions (path-style, the test credentials)."""
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def storage_spec(self, prefix: str | None = None, **fields: Any) -> StorageSpec:
        """A StorageSpec for this server's bucket; ``prefix`` defaults to a fresh unique one."""
        return StorageSpec(
            bucket=self.bucket,
            prefix=prefix if prefix is not None else f"t-{uuid.uuid4().hex[:10]}",
            endpointUrl=self.endpoint_url,
            region=self.region,
            pathStyle=True,
            **fields,
        )

    def put(self, key: str, data: bytes, bucket: str | None = None) -> str:
        """Store ``data`` at ``key``; returns its ``s3://`` URI."""
        self.client().put_object(Bucket=bucket or self.bucket, Key=key, Body=data)
        return f"s3://{bucket or self.bucket}/{key}"

    def get(self, key: str, bucket: str | None = None) -> bytes:
        """The bytes stored at ``key``."""
        return bytes(self.client().get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read())

    def list_keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        """Keys under ``prefix``."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket or self.bucket, Prefix=prefix)
        )
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def create_bucket(self, name: str | None = None) -> str:
        """Another fresh bucket; returns its name."""
        name = name or f"reelkube-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def _wait_until_answers(
    url: str, proc: subprocess.Popen[bytes] | None, log_path: Path, limit: float = 30.0
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"S3 server at {url} did not answer within {limit:g} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server with a fresh bucket; the AWS_* variables point at it for the session."""
    external = os.environ.get("REELKUBE_S3_ENDPOINT_URL")
    proc: subprocess.Popen[bytes] | None = None
    if external:
        endpoint = external.rstrip("/")
        access = os.environ.get("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    else:
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        access, secret = TEST_ACCESS_KEY, TEST_SECRET_KEY
        log_path = tmp_path_factory.mktemp("moto") / "moto.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_answers(f"{endpoint}/moto-api/", proc, log_path)
        except BaseException:
            proc.kill()
            raise
    server = S3Server(endpoint, TEST_REGION, access, secret, bucket=f"reelkube-test-{uuid.uuid4().hex[:12]}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", access)
        env.setenv("AWS_SECRET_ACCESS_KEY", secret)
        env.setenv("AWS_DEFAULT_REGION", TEST_REGION)
        env.setenv("AWS_REGION", TEST_REGION)
        env.setenv("REELKUBE_S3_ENDPOINT_URL", endpoint)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("REELKUBE_S3_CREDENTIALS_DIR", raising=False)
        try:
            server.client().create_bucket(Bucket=server.bucket)
            yield server
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            else:
                _empty_and_delete(server)


def _empty_and_delete(server: S3Server) -> None:
    """Leave an external server as it was found (best effort: it may be shared)."""
    client = server.client()
    try:
        for key in server.list_keys():
            client.delete_object(Bucket=server.bucket, Key=key)
        client.delete_bucket(Bucket=server.bucket)
    except Exception as exc:  # cleanup must not fail the session
        print(f"warning: could not delete test bucket {server.bucket}: {exc}", file=sys.stderr)
