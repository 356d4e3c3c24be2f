"""Loopback ports for tests: one nobody listens on, for servers and for refused connections; a
server that accepts and never answers.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

closed_port_url   function: ``http://127.0.0.1:<port>`` where nothing listens.
"""

from __future__ import annotations

import socket
import threading

import pytest


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


class StallingServer:
    """A TCP server on ``host`` that accepts connections and never answers: a download from it
    hangs, so a render pod fetching from it stays Running."""

    def __init__(self, host: str) -> None:
        self._socket = socket.create_server((host, 0))
        self._socket.settimeout(0.5)
        self.host, self.port = host, self._socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self._socket.close()
