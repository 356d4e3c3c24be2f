"""A real S3-protocol server for tests: the project's SigV4-verifying server, or one named by the
environment.

The server is reelkube-s3server (tests/s3server: gofakes3 behind AWS Signature Version 4
verification), the binary ``tests/cluster/build.sh s3server`` builds from the Go module proxy and
the chart ships as its embedded storage. It refuses what a cloud refuses: a wrong secret
(SignatureDoesNotMatch), an unknown key (InvalidAccessKeyId), an unsigned request, an expired or
tampered presigned URL, a body other than the signed one. So every test here signs with the
credentials the server was started with (:data:`TEST_ACCESS_KEY`, :data:`TEST_SECRET_KEY`), and a
test about signatures or expiry can fail. The binary is built on first use when missing or out of
date (seconds warm, tens of seconds cold); a machine without Go skips the tests that need it, or
fails them where tools are required (``REELKUBE_REQUIRE_TOOLS=1``).

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

s3_server   session: reelkube-s3server on 127.0.0.1 (or the server named by
            ``REELKUBE_S3_ENDPOINT_URL``, with the AWS_* credentials of the environment), a fresh
            bucket, and the AWS_* / REELKUBE_S3_ENDPOINT_URL environment pointing at it for the
            session.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from reelkube.api.common import StorageSpec
from support.network import free_port
from support.tools import require_tool

# The one key pair the session's server verifies every signature against. Distinctive values, so a
# test that searches logs for the secret cannot match something else by accident.
TEST_ACCESS_KEY = "reelkube-test-access"
TEST_SECRET_KEY = "reelkube-test-secret-5f1d0c"
TEST_REGION = "us-east-1"

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "tests" / "cluster" / "build.sh"
BINARY_NAME = "reelkube-s3server"
BINARY_ENV = "REELKUBE_S3SERVER_BIN"
HEALTH_PATH = "/-/healthz"
MISSING_REASON = f"no {BINARY_NAME} (needs Go: tests/cluster/build.sh s3server)"


@dataclass
class S3Server:
    """A running S3 server and the bucket the session owns there."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str

    def client(self, *, access_key_id: str | None = None, secret_access_key: str | None = None) -> Any:
        """A boto3 client for assertions (path-style), signing with the server's credentials unless
        others are given (to show that they are refused)."""
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
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


@dataclass
class VerifyingS3(S3Server):
    """A reelkube-s3server this session started: :class:`S3Server` plus its process's files."""

    data_dir: Path = field(default_factory=Path)
    log_path: Path = field(default_factory=Path)
    binary: str = ""

    def log_text(self) -> str:
        """What the server logged so far (it logs every refusal with its reason)."""
        return self.log_path.read_text(errors="replace")

    def requests(self, path: str) -> list[str]:
        """The verified requests for ``path`` (``/bucket/key``, URL-escaped) so far, from the access log: each
        ``"<METHOD> <query parameter names, partNumber with its value> <status>"``, e.g.
        ``"PUT ?partNumber=1&uploadId 200"``."""
        found = []
        for line in self.log_text().splitlines():
            # "<date> <time> access <METHOD> <path>[?<query>] <status> <bytes>"
            fields = line.split()
            if len(fields) == 7 and fields[2] == "access":
                target, _, query = fields[4].partition("?")
                if target == path:
                    found.append(" ".join([fields[3], *(["?" + query] if query else []), fields[5]]))
        return found


def find_s3server() -> str | None:
    """The server's binary: ``$REELKUBE_S3SERVER_BIN``, else the cluster build's (built now if it
    is missing or out of date). None when it cannot be built here (no Go, no module proxy)."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    try:
        bin_dir = Path(
            subprocess.run(
                [str(BUILD_SCRIPT), "--print-bin-dir"], check=True, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        )
        bin_dir.mkdir(parents=True, exist_ok=True)
        # One build at a time: parallel pytest workers each ask for the binary at start, and two
        # builds would write the same output file. The stamp check inside makes a warm call a no-op.
        with (bin_dir / ".s3server.build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run(
                [str(BUILD_SCRIPT), "s3server"], check=True, capture_output=True, text=True, timeout=900
            )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else exc
        print(f"warning: could not build {BINARY_NAME}: {str(detail)[-1500:]}", file=sys.stderr)
        return None
    binary = bin_dir / BINARY_NAME
    return str(binary) if os.access(binary, os.X_OK) else None


def start_s3server(
    binary: str,
    data_dir: Path,
    log_path: Path,
    *,
    access_key: str,
    secret_key: str,
    buckets: str = "",
    host: str = "127.0.0.1",
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port of ``host``; returns the process and its endpoint URL once
    it answers its health check (RuntimeError with the log's tail if it exits or stays silent)."""
    port = free_port(host)
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            # -access-log: a test can read which operations a client made (see VerifyingS3.requests).
            [binary, "-listen", f"{host}:{port}", "-data", str(data_dir), "-buckets", buckets, "-access-log"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"{binary} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(endpoint + HEALTH_PATH, timeout=1.0).status_code == 200:
                    return proc, endpoint
            except httpx.TransportError:
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)  # a pause that ends at once if the server exits
        raise RuntimeError(f"{binary} did not answer {endpoint}{HEALTH_PATH} within 30 s")
    except BaseException:
        stop_s3server(proc)
        raise


def stop_s3server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server shuts down gracefully), then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_s3server(base: Path, *, access_key: str, secret_key: str, bucket: str) -> Iterator[VerifyingS3]:
    """A reelkube-s3server with its data and log under ``base`` and ``bucket`` created, for as
    long as the block runs (skipped, or failed where tools are required, without a binary)."""
    binary = require_tool(find_s3server(), MISSING_REASON)
    data_dir, log_path = base / "data", base / "server.log"
    proc, endpoint = start_s3server(
        binary, data_dir, log_path, access_key=access_key, secret_key=secret_key, buckets=bucket
    )
    try:
        yield VerifyingS3(
            endpoint_url=endpoint,
            region=TEST_REGION,
            access_key_id=access_key,
            secret_access_key=secret_key,
            bucket=bucket,
            data_dir=data_dir,
            log_path=log_path,
            binary=binary,
        )
    finally:
        stop_s3server(proc)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server with a fresh bucket; the AWS_* variables point at it for the session."""
    bucket = f"reelkube-test-{uuid.uuid4().hex[:12]}"
    external = os.environ.get("REELKUBE_S3_ENDPOINT_URL")
    with contextlib.ExitStack() as stack:
        server: S3Server
        if external:
            server = S3Server(
                external.rstrip("/"),
                TEST_REGION,
                os.environ.get("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY),
                os.environ.get("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY),
                bucket,
            )
            server.client().create_bucket(Bucket=bucket)
            stack.callback(_empty_and_delete, server)
        else:
            base = tmp_path_factory.mktemp("s3server")
            server = stack.enter_context(
                running_s3server(base, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY, bucket=bucket)
            )
        env = stack.enter_context(pytest.MonkeyPatch.context())
        env.setenv("AWS_ACCESS_KEY_ID", server.access_key_id)
        env.setenv("AWS_SECRET_ACCESS_KEY", server.secret_access_key)
        env.setenv("AWS_DEFAULT_REGION", TEST_REGION)
        env.setenv("AWS_REGION", TEST_REGION)
        env.setenv("REELKUBE_S3_ENDPOINT_URL", server.endpoint_url)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "REELKUBE_S3_CREDENTIALS_DIR", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        yield server


def _empty_and_delete(server: S3Server) -> None:
    """Leave an external server as it was found (best effort: it may be shared)."""
    client = server.client()
    try:
        for key in server.list_keys():
            client.delete_object(Bucket=server.bucket, Key=key)
        client.delete_bucket(Bucket=server.bucket)
    except Exception as exc:  # cleanup must not fail the session
        print(f"warning: could not delete test bucket {server.bucket}: {exc}", file=sys.stderr)
