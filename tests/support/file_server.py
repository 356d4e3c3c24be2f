"""A real HTTP file server on loopback, for inputs fetched by URL; it can also stall or trickle.

GET /<path>          the file at <path> under the served directory; 404 when there is none
GET /slow/<path>     the same file, after 3 s of silence
GET /trickle/<any>   1000 bytes announced, then one byte every 0.2 s
GET /status/<code>/<any>  an empty answer with that HTTP status (403, 429, 503, ...)
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class FileServer:
    """A running file server: its base URL and the directory it serves."""

    url: str
    root: Path


@contextmanager
def serve_files(root: Path) -> Iterator[FileServer]:
    """Serve `root` on 127.0.0.1 until the block ends."""
    base = root.resolve()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass  # keep test output quiet

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = unquote(urlparse(self.path).path).strip("/")
            try:
                if path.startswith("slow/"):
                    time.sleep(3)
                    self._send_file(path.removeprefix("slow/"))
                elif path.startswith("status/"):
                    self.send_error(int(path.split("/")[1]))
                elif path.startswith("trickle/"):
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
                else:
                    self._send_file(path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first, as the timeout tests intend

        def _send_file(self, relative: str) -> None:
            file = (base / relative).resolve()
            if base not in file.parents or not file.is_file():
                self.send_error(404)
                return
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="file-server", daemon=True
    ).start()
    try:
        yield FileServer(url=f"http://127.0.0.1:{server.server_address[1]}", root=root)
    finally:
        server.shutdown()
        server.server_close()
