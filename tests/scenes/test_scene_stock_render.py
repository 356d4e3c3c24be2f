"""Stock media in a real render: a scene the asset library cannot answer shows the Pexels result,
its attribution kept in the storyboard, and the picture is downloaded under the job's input
policy like every other input (a policy that refuses the address refuses the stock picture).

Pexels cannot be reached from the test machines: the search is answered by a local HTTP server
in Pexels' published response format (entries from support/pexels_server.py), and the entries'
picture links point back at the same server, which serves a generated orange picture."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from reelkube.api.renderjob import RenderJob
from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy
from reelkube.pipeline.render_job import render_job
from reelkube.scenes.stock import API_KEY_ENV, URL_ENV
from support.media import ffmpeg, frames_at, region_mean
from support.pexels_server import API_KEY, photo

pytestmark = pytest.mark.slow

FPS = 15
ORANGE = (230, 110, 20)


@dataclass
class StockServer:
    url: str
    searches: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)


@contextmanager
def serve_stock(picture: bytes) -> Iterator[StockServer]:
    """Pexels' photo search on 127.0.0.1, whose results link to `picture` on the same server."""
    state = StockServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parsed = urlparse(self.path)
            if parsed.path.startswith("/photos/"):
                state.downloads.append(parsed.path)
                self._send(200, picture, "image/jpeg")
                return
            if parsed.path != "/v1/search" or self.headers.get("Authorization") != API_KEY:
                self._send(401, b'{"error": "Unauthorized"}', "application/json")
                return
            state.searches.append(parse_qs(parsed.query)["query"][0])
            items = []
            for number in (300, 301):
                item = photo(number, 1200, 800)
                item["src"] = {key: f"{state.url}/photos/{number}.jpg" for key in item["src"]}
                items.append(item)
            body = {"page": 1, "per_page": len(items), "total_results": len(items), "photos": items}
            self._send(200, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StockServer]:
    """The stand-in, enabled for this process as the chart enables it for a render pod."""
    picture = tmp_path / "orange.jpg"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x{:02x}{:02x}{:02x}:s=320x180".format(*ORANGE),
           "-frames:v", "1", str(picture))  # fmt: skip
    with serve_stock(picture.read_bytes()) as server:
        monkeypatch.setenv(API_KEY_ENV, API_KEY)
        monkeypatch.setenv(URL_ENV, server.url)
        yield server


def stock_job() -> RenderJob:
    return RenderJob.model_validate(
        {
            "metadata": {"name": "stock"},
            "spec": {
                "template": "explainer",
                "props": {
                    "script": "Volcanoes erupt with glowing lava.",
                    "outro": None,
                    "stock": {"provider": "pexels", "media": "photo", "results": 2},
                    "style": {"tintOpacity": 0.0, "captions": False},
                },
                "output": {"width": 320, "height": 180, "fps": FPS, "preset": "ultrafast"},
            },
        }
    )


def test_a_scene_the_library_cannot_answer_shows_the_stock_picture(
    stock: StockServer, tmp_path: Path
) -> None:
    # The pod's policy, with the stand-in's loopback address allowed as the chart would allow a host.
    policy = InputPolicy.cluster(asset_dir=tmp_path, allowed_cidrs=["127.0.0.1/32"])
    result = render_job(stock_job(), tmp_path / "out", base_dir=tmp_path, policy=policy)
    storyboard = json.loads(Path(result.outputs["storyboard"].path).read_text())
    [scene] = storyboard["scenes"]
    visual = scene["visual"]
    assert visual["source"] == "stock" and visual["assetId"] == "pexels-photo-300"
    assert visual["src"] == f"{stock.url}/photos/300.jpg" and visual["score"] > 0
    assert visual["attribution"] == "Photo by Photographer 300 on Pexels (https://www.pexels.com/photo/300/)"
    assert stock.searches == ["volcanoes erupt glowing lava"]
    assert stock.downloads  # the picture was fetched (for the video and the contact sheet)
    middle = round((scene["start"] + scene["end"]) / 2 * FPS)
    frame = frames_at(Path(result.outputs["video"].path), [middle])[middle]
    # Above the lower third: the stock picture (within the encoder's rounding).
    assert np.all(np.abs(region_mean(frame, 0.02, 0.2, 0.6, 0.98) - ORANGE) <= 12)


def test_a_stock_picture_is_refused_where_the_input_policy_refuses_its_address(
    stock: StockServer, tmp_path: Path
) -> None:
    policy = InputPolicy.cluster(asset_dir=tmp_path)  # loopback is not allowed
    with pytest.raises(InputForbidden, match="127.0.0.1") as refused:
        render_job(stock_job(), tmp_path / "out", base_dir=tmp_path, policy=policy)
    assert "loopback" in str(refused.value)
    assert stock.searches and not stock.downloads
