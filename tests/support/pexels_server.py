"""A local stand-in for Pexels' search API, answering in its published response format
(https://www.pexels.com/api/documentation/): Pexels itself cannot be reached from the test
machines, so the client is tested against this.

GET /v1/search?query=...       {"page", "per_page", "total_results", "photos": [...]}
GET /videos/search?query=...   {"page", "per_page", "total_results", "videos": [...]}

Each request is recorded (path, query parameters, Authorization header). Queries holding
"nothing" answer with no results; a wrong key gets 401.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

API_KEY = "test-pexels-key"


@dataclass
class PexelsServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def photo(number: int, width: int, height: int) -> dict[str, Any]:
    """A photo entry as Pexels returns it."""
    base = f"https://images.pexels.com/photos/{number}/pexels-photo-{number}.jpeg"
    return {
        "id": number, "width": width, "height": height, "url": f"https://www.pexels.com/photo/{number}/",
        "photographer": f"Photographer {number}", "photographer_url": "https://www.pexels.com/@someone",
        "photographer_id": 7, "avg_color": "#7E7E7E", "liked": False, "alt": f"Stock photo {number}",
        "src": {"original": base, "large2x": f"{base}?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940",
                "large": f"{base}?h=650&w=940", "medium": f"{base}?h=350", "small": f"{base}?h=130",
                "portrait": f"{base}?fit=crop&h=1200&w=800", "landscape": f"{base}?fit=crop&h=627&w=1200",
                "tiny": f"{base}?h=200&w=280"},
    }  # fmt: skip


def video(number: int) -> dict[str, Any]:
    """A video entry as Pexels returns it (several files; the 4K one is skipped)."""
    link = f"https://videos.pexels.com/video-files/{number}"
    return {
        "id": number, "width": 1920, "height": 1080, "duration": 8, "url": f"https://www.pexels.com/video/{number}/",
        "image": f"https://images.pexels.com/videos/{number}/free-video-{number}.jpg",
        "user": {"id": 3, "name": f"Filmmaker {number}", "url": "https://www.pexels.com/@filmmaker"},
        "video_files": [
            {"id": 1, "quality": "sd", "file_type": "video/mp4", "width": 640, "height": 360,
             "link": f"{link}/sd.mp4"},
            {"id": 2, "quality": "hd", "file_type": "video/mp4", "width": 1920, "height": 1080,
             "link": f"{link}/hd.mp4"},
            {"id": 3, "quality": "uhd", "file_type": "video/mp4", "width": 3840, "height": 2160,
             "link": f"{link}/uhd.mp4"},
        ],
        "video_pictures": [],
    }  # fmt: skip


@contextmanager
def serve_pexels() -> Iterator[PexelsServer]:
    """Run the stand-in on 127.0.0.1 until the block ends."""
    state = PexelsServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parsed = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            state.requests.append(
                {"path": parsed.path, "params": params, "key": self.headers.get("Authorization")}
            )
            if self.headers.get("Authorization") != API_KEY:
                self._send(401, {"error": "Unauthorized"})
                return
            # A query "status-NNN ..." is answered with that status: Pexels' 429 when the rate
            # limit is spent, a 5xx when it is down, a 400 for a request it cannot take.
            forced = re.match(r"status-(\d{3})", params.get("query", ""))
            if forced:
                self._send(int(forced.group(1)), {"error": f"forced {forced.group(1)}"})
                return
            empty = "nothing" in params.get("query", "")
            per_page = int(params.get("per_page", 15))
            if parsed.path == "/v1/search":
                shapes = [(1200, 800), (800, 1200), (1000, 1000)]
                items = [] if empty else [photo(100 + i, *shapes[i % 3]) for i in range(min(3, per_page))]
                self._send(
                    200, {"page": 1, "per_page": per_page, "total_results": len(items), "photos": items}
                )
            elif parsed.path == "/videos/search":
                items = [] if empty else [video(200 + i) for i in range(min(2, per_page))]
                self._send(
                    200, {"page": 1, "per_page": per_page, "total_results": len(items), "videos": items}
                )
            else:
                self._send(404, {"error": "Not found"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="pexels-server", daemon=True
    ).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
