"""Shared fixtures: a real S3-protocol server and a loopback HTTP receiver for webhooks.

s3_server                  session: moto's standalone server on 127.0.0.1 (or the server named by
                           ``REELKUBE_S3_ENDPOINT_URL``), a fresh bucket, and the AWS_* /
                           REELKUBE_S3_ENDPOINT_URL environment pointing at it for the session.
webhook_receiver           function: a fresh :class:`WebhookReceiver` on 127.0.0.1.
closed_port_url            function: ``http://127.0.0.1:<port>`` where nothing listens.
webhook_receiver_factory   session: ``factory(host="127.0.0.1", port=0)`` for receivers that other
                           fixtures keep longer, or that listen where pods can reach them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from reelkube.api.common import StorageSpec

TEST_ACCESS_KEY = "reelkube-test-access"
TEST_SECRET_KEY = "reelkube-test-secret"  # moto accepts any key pair
TEST_REGION = "us-east-1"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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


@dataclass
class ReceivedRequest:
    """One request the receiver saw."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    """The status code the receiver answered with."""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """A header, looked up case-insensitively."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class WebhookReceiver:
    """A real HTTP server in a thread that records every request and answers with scripted codes."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    default_status: int = 200
    _script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL; append any path (the receiver accepts every path)."""
        return f"http://{self.host}:{self.port}"

    def respond_with(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        """Answer the next requests in order with these codes (or ``(code, headers)`` pairs),
        then with ``default_status``."""
        with self._lock:
            self._script.extend(a if isinstance(a, tuple) else (a, {}) for a in answers)

    def fail_first(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self.respond_with(*([status] * count))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests arrived; returns them (AssertionError on timeout)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                raise AssertionError(
                    f"expected {count} requests within {timeout:g} s, got {len(self.requests)}"
                )
            return list(self.requests)

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        with self._lock:
            status, extra = self._script.popleft() if self._script else (self.default_status, {})
            self.requests.append(ReceivedRequest(method, path, headers, body, status))
            self._lock.notify_all()
            return status, extra

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, extra = receiver._record(self.command, self.path, dict(self.headers.items()), body)
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def closed_port_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def webhook_receiver_factory() -> Iterator[Callable[..., WebhookReceiver]]:
    """``factory(host="127.0.0.1", port=0)`` -> a started receiver, stopped at the session's end."""
    started: list[WebhookReceiver] = []

    def factory(host: str = "127.0.0.1", port: int = 0) -> WebhookReceiver:
        receiver = WebhookReceiver(host=host, port=port).start()
        started.append(receiver)
        return receiver

    yield factory
    for receiver in started:
        receiver.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A fresh receiver on 127.0.0.1 for one test."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
