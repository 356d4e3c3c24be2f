"""A second reelkube-s3server on loopback, with a random key pair, for the tests about the server
itself (signatures, expiry, restarts on the same data folder).

The server, its binary and how it is started live in support.s3 (the session's ``s3_server`` is the
same program with fixed test credentials); this module keeps the names those tests import.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

verifying_s3        session: a running server with a fresh bucket and a random key pair.
verifying_s3_env    function: the AWS_* / REELKUBE_S3_ENDPOINT_URL environment pointing at it
                    for one test, as a render pod's environment points at its storage.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from support.s3 import (
    BINARY_NAME,
    VerifyingS3,
    find_s3server,
    running_s3server,
    start_s3server,
    stop_s3server,
)

__all__ = ["BINARY_NAME", "VerifyingS3", "find_s3server", "start_s3server", "stop_s3server"]


@pytest.fixture(scope="session")
def verifying_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifyingS3]:
    """A reelkube-s3server on loopback with a fresh bucket and a random key pair (so nothing that
    holds the session's fixed test credentials can pass its checks by accident)."""
    with running_s3server(
        tmp_path_factory.mktemp("verifying-s3"),
        access_key=f"reelkube-{secrets.token_hex(4)}",
        secret_key=secrets.token_urlsafe(24),
        bucket=f"reelkube-test-{uuid.uuid4().hex[:12]}",
    ) as server:
        yield server


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
