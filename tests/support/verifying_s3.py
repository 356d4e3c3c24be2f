"""The project's own S3 server on loopback: gofakes3 behind SigV4 verification (tests/s3server).

Unlike moto (support.s3), it refuses what a cloud refuses: a wrong secret
(SignatureDoesNotMatch), an unknown key (InvalidAccessKeyId), an unsigned request, an expired or
tampered presigned URL, and a body whose SHA-256 is not the signed one. The binary is the one
``tests/cluster/build.sh s3server`` builds from the Go module proxy (built on first use when
missing; a machine without Go skips these tests, or fails them where tools are required).

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

verifying_s3        session: a running server with a fresh bucket and a random key pair.
verifying_s3_env    function: the AWS_* / REELKUBE_S3_ENDPOINT_URL environment pointing at it
                    for one test, as a render pod's environment points at its storage.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from support.network import free_port
from support.s3 import TEST_REGION, S3Server
from support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "tests" / "cluster" / "build.sh"
BINARY_NAME = "reelkube-s3server"
BINARY_ENV = "REELKUBE_S3SERVER_BIN"
HEALTH_PATH = "/-/healthz"


def find_s3server() -> str | None:
    """The server's binary: ``$REELKUBE_S3SERVER_BIN``, else the cluster build's (built now if it
    is missing or out of date; a few seconds warm). None when it cannot be built here."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    try:
        bin_dir = subprocess.run(
            [str(BUILD_SCRIPT), "--print-bin-dir"], check=True, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        # The stamp check makes this a no-op when the sources have not changed.
        subprocess.run(
            [str(BUILD_SCRIPT), "s3server"], check=True, capture_output=True, text=True, timeout=900
        )
    except (OSError, subprocess.SubprocessError):
        return None
    binary = Path(bin_dir) / BINARY_NAME
    return str(binary) if os.access(binary, os.X_OK) else None


@dataclass
class VerifyingS3(S3Server):
    """A running reelkube-s3server: :class:`support.s3.S3Server` plus its process and files."""

    data_dir: Path = field(default_factory=Path)
    log_path: Path = field(default_factory=Path)
    binary: str = ""

    def log_text(self) -> str:
        """What the server logged so far (it logs every refusal with its reason)."""
        return self.log_path.read_text(errors="replace")


def start_s3server(
    binary: str, data_dir: Path, log_path: Path, *, access_key: str, secret_key: str, buckets: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free loopback port; returns the process and its endpoint URL once it
    answers its health check (RuntimeError with the log's tail if it exits or stays silent)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [binary, "-listen", f"127.0.0.1:{port}", "-data", str(data_dir), "-buckets", buckets],
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


@pytest.fixture(scope="session")
def verifying_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifyingS3]:
    """A reelkube-s3server on loopback with a fresh bucket and a random key pair."""
    binary = require_tool(find_s3server(), f"no {BINARY_NAME} (needs Go: tests/cluster/build.sh s3server)")
    base = tmp_path_factory.mktemp("verifying-s3")
    bucket = f"reelkube-test-{uuid.uuid4().hex[:12]}"
    access, secret = f"reelkube-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    proc, endpoint = start_s3server(
        binary, base / "data", base / "server.log", access_key=access, secret_key=secret, buckets=bucket
    )
    try:
        yield VerifyingS3(
            endpoint_url=endpoint,
            region=TEST_REGION,
            access_key_id=access,
            secret_access_key=secret,
            bucket=bucket,
            data_dir=base / "data",
            log_path=base / "server.log",
            binary=binary,
        )
    finally:
        stop_s3server(proc)


@pytest.fixture
def verifying_s3_env(verifying_s3: VerifyingS3, monkeypatch: pytest.MonkeyPatch) -> VerifyingS3:
    """The environment the storage module reads, pointing at ``verifying_s3`` for one test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", verifying_s3.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", verifying_s3.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", verifying_s3.region)
    monkeypatch.setenv("AWS_REGION", verifying_s3.region)
    monkeypatch.setenv("REELKUBE_S3_ENDPOINT_URL", verifying_s3.endpoint_url)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "REELKUBE_S3_CREDENTIALS_DIR", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return verifying_s3
