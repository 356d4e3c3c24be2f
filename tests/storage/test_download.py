"""`s3://` inputs downloaded from a real S3 server."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelkube.errors import InputNotFound, InputTimeout, InputTooLarge, SpecError
from reelkube.storage import download_object


def test_download_by_uri_gives_the_same_bytes(s3_server, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    uri = s3_server.put("inputs/clip.mp4", data)
    dest = tmp_path / "in" / "clip.mp4"
    result = download_object(uri, dest, max_bytes=1_000_000, timeout=10, storage=None)
    assert result == dest
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not (tmp_path / "in" / "clip.mp4.part").exists()


def test_download_uses_the_storage_spec_endpoint(s3_server, tmp_path: Path, monkeypatch) -> None:
    uri = s3_server.put("inputs/spec.bin", b"via the spec")
    # With the environment pointing nowhere, only the spec's endpoint can work.
    monkeypatch.setenv("REELKUBE_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    dest = download_object(
        uri, tmp_path / "x.bin", max_bytes=100, timeout=10, storage=s3_server.storage_spec()
    )
    assert dest.read_bytes() == b"via the spec"


def test_oversize_object_is_refused_before_download(s3_server, tmp_path: Path) -> None:
    uri = s3_server.put("inputs/big.bin", b"x" * 5000)
    dest = tmp_path / "big.bin"
    with pytest.raises(InputTooLarge, match="5000 bytes, over the limit of 4999"):
        download_object(uri, dest, max_bytes=4999, timeout=10, storage=None)
    assert not dest.exists() and not (tmp_path / "big.bin.part").exists()


def test_object_exactly_at_the_limit_is_accepted(s3_server, tmp_path: Path) -> None:
    uri = s3_server.put("inputs/edge.bin", b"y" * 4096)
    assert (
        download_object(uri, tmp_path / "e", max_bytes=4096, timeout=10, storage=None).stat().st_size == 4096
    )


def test_missing_object_is_input_not_found(s3_server, tmp_path: Path) -> None:
    with pytest.raises(InputNotFound) as info:
        download_object(
            f"s3://{s3_server.bucket}/nope/missing.mp4",
            tmp_path / "m",
            max_bytes=10,
            timeout=10,
            storage=None,
        )
    assert info.value.reason == "InputNotFound"
    assert "missing.mp4" in info.value.message


def test_missing_bucket_is_input_not_found(s3_server, tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        download_object(
            "s3://reelkube-no-such-bucket/a.mp4", tmp_path / "m", max_bytes=10, timeout=10, storage=None
        )
    assert not (tmp_path / "m").exists()


def test_not_an_s3_uri_is_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        download_object("s3://bucket-only", tmp_path / "m", max_bytes=10, timeout=1, storage=None)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real TCP server on loopback that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_server_that_never_answers_is_input_timeout(s3_server, tmp_path: Path, silent_server: str) -> None:
    storage = s3_server.storage_spec().model_copy(update={"endpointUrl": silent_server})
    started = time.monotonic()
    with pytest.raises(InputTimeout, match="longer than 0.5 s"):
        download_object(
            f"s3://{s3_server.bucket}/a.mp4", tmp_path / "t", max_bytes=10, timeout=0.5, storage=storage
        )
    # Two attempts of 0.5 s each, plus client setup: well under the default timeouts.
    assert time.monotonic() - started < 5
