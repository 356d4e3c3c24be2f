"""Loopback ports for tests: one nobody listens on, for servers and for refused connections.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

closed_port_url   function: ``http://127.0.0.1:<port>`` where nothing listens.
"""

from __future__ import annotations

import socket

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
