"""Fixtures for the engine tests: tiny real media made with ffmpeg, and a real HTTP file server
on loopback that can also answer 404, stall, or trickle."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WIDTH, HEIGHT, FPS = 160, 284, 30


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


def ffprobe(path: Path) -> dict[str, Any]:
    """Streams and format of a file, with exact frame counts."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def video_stream(path: Path) -> dict[str, Any]:
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """image.jpg (400x300), clip.mp4 (320x240, 2 s, with a 440 Hz tone), tone.wav (3 s),
    silent.mp4 (no audio), junk.mp4 (random bytes), captions.srt."""
    root = tmp_path_factory.mktemp("media")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=400x300:d=1", "-frames:v", "1", str(root / "image.jpg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           str(root / "clip.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast",
           str(root / "silent.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=f=220:d=3", str(root / "tone.wav"))
    (root / "junk.mp4").write_bytes(bytes(range(256)) * 64)
    (root / "captions.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,000\nHello {there}\n\n", encoding="utf-8"
    )
    return {p.stem: p for p in root.iterdir()} | {"root": root}


@dataclass
class FileServer:
    url: str
    root: Path
    delay_first_byte: float = 0.0


@pytest.fixture
def file_server(media: dict[str, Path]) -> Iterator[FileServer]:
    """Serves the media directory; `/slow/<name>` waits 3 s before answering, `/trickle/<name>`
    sends a byte every 0.2 s, `/missing` is 404."""
    root = media["root"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = self.path.strip("/").split("/")
            try:
                if parts[0] == "slow":
                    time.sleep(3)
                    self._send((root / parts[1]).read_bytes())
                elif parts[0] == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
                elif (root / parts[0]).is_file():
                    self._send((root / parts[0]).read_bytes())
                else:
                    self.send_error(404)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FileServer(url=f"http://127.0.0.1:{server.server_address[1]}", root=root)
    finally:
        server.shutdown()
        server.server_close()
