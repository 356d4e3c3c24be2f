"""The pinned connection keeps TLS honest: SNI and certificate checks use the URL's name while
the TCP connection goes to the address that was checked."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelkube.input_policy.pinned import PinnedTransport
from support.tools import require_tool


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only media.test; it records SNI."""
    openssl = require_tool(shutil.which("openssl"), "openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=media.test", "-addext", "subjectAltName=DNS:media.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    def record_sni(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    server_context.sni_callback = record_sni

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = self.headers.get("Host", "").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert))
    try:
        yield server.server_address[1], client_context, names
    finally:
        server.shutdown()
        server.server_close()


def test_sni_host_and_certificate_use_the_name_while_connecting_to_the_checked_address(
    tls_server: tuple[int, ssl.SSLContext, list[str | None]],
) -> None:
    port, trust, names = tls_server
    transport = PinnedTransport("media.test", "127.0.0.1", ssl_context=trust)
    with httpx.Client(transport=transport) as client:
        response = client.get(f"https://media.test:{port}/")
    assert response.status_code == 200 and response.text == f"media.test:{port}"
    assert names == ["media.test"]


def test_a_certificate_for_another_name_is_refused(
    tls_server: tuple[int, ssl.SSLContext, list[str | None]],
) -> None:
    port, trust, _names = tls_server
    transport = PinnedTransport("evil.test", "127.0.0.1", ssl_context=trust)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="evil.test"):
        client.get(f"https://evil.test:{port}/")


def test_a_name_that_was_not_checked_is_never_connected() -> None:
    transport = PinnedTransport("media.test", "127.0.0.1")
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="not checked"):
        client.get("http://other.test/")
