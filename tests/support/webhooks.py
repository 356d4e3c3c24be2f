"""A loopback HTTP receiver for webhooks: records every request, answers with scripted codes.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

webhook_receiver           function: a fresh :class:`WebhookReceiver` on 127.0.0.1.
webhook_receiver_factory   session: ``factory(host="127.0.0.1", port=0)`` for receivers that other
                           fixtures keep longer, or that listen where pods can reach them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def documented_event_id(uid: str, name: str) -> str:
    """The documented webhook id of ``event`` or ``event@occurrence`` for the resource ``uid``,
    computed here rather than by Reelkube (tests/webhooks/test_standard_webhooks.py pins the
    derivation itself)."""
    event, _, occurrence = name.partition("@")
    key = f"{uid}/{event}" + (f"/{occurrence}" if occurrence else "")
    return "evt_" + hashlib.sha256(key.encode()).hexdigest()[:24]


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
