"""The connection side of the input policy: an httpx transport whose TCP connections go to the
address :meth:`reelkube.input_policy.InputPolicy.check_url` checked.

Its own module so that httpx and httpcore (about 0.1 s to import, with the command-line tools
httpx pulls in) load only where a connection is made: inputs fetched over http(s), webhooks, a
speech API. A render of local files never imports them.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from reelkube.input_policy import _normal_host


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the one address that was checked, whatever the host the request names."""

    def __init__(self, host: str, address: str) -> None:
        self._host = host
        self._address = address
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if _normal_host(host) != _normal_host(self._host):
            raise httpcore.ConnectError(f"{host} was not checked against the input policy")
        return self._backend.connect_tcp(self._address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not inputs")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system's trusted CAs, loaded once per process. Loading them takes about 50 ms, and
    every input, webhook and speech request opens its own transport; an SSLContext is safe to
    share between connections and threads."""
    return httpx.create_ssl_context(trust_env=False)


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections go to a checked address.

    The request keeps its URL, so the Host header, TLS SNI and certificate verification all use
    the original name; only the TCP connection is pinned. No proxy from the environment is used:
    a proxy would connect to the name itself, after the check.
    """

    def __init__(self, host: str, address: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        context = ssl_context or default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx does not expose httpcore's network_backend; its pool is swapped for one that has it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=1,
            network_backend=_PinnedBackend(host, address),
        )
