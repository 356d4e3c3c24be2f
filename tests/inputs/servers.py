"""A loopback HTTP server for input tests that records every request it receives.

It answers ``/files/<name>`` from a dict, ``/redirect?to=<url>`` with a 302 to that URL and
``/chain/<n>`` with a chain of n redirects ending in ``/files/clip.bin``. A test asks it
afterwards which paths were requested: "never contacted" is an assertion, not an assumption.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordingServer:
    """The running server: its base URL, the files it serves and the requests it saw."""

    port: int
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(path, Host header) of every request, in order."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _host in self.requests]


@contextmanager
def recording_server(files: dict[str, bytes] | None = None) -> Iterator[RecordingServer]:
    """Serve on 127.0.0.1 (a free port) until the block ends."""
    state = RecordingServer(port=0, files=dict(files or {}))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            state.requests.append((self.path, self.headers.get("Host", "")))
            parts = urlsplit(self.path)
            if parts.path == "/redirect":
                self._redirect(parse_qs(parts.query)["to"][0])
            elif parts.path.startswith("/chain/"):
                left = int(parts.path.rsplit("/", 1)[1])
                self._redirect(f"/chain/{left - 1}" if left > 1 else "/files/clip.bin")
            elif parts.path.startswith("/files/") and parts.path[7:] in state.files:
                body = state.files[parts.path[7:]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
