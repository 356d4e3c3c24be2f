"""The Pexels stock provider, tested against a local server that answers in Pexels' published
response format (tests/support/pexels_server.py): Pexels itself cannot be reached from the test
machines. Search parameters, the key header, photo and video mapping with attribution, the stock
step in visual choice, and the refusals (no key here, a wrong key; a failed search transient
or permanent as its status says). No ffmpeg."""

from __future__ import annotations

import pytest

from reelkube.errors import InputError, InputRejected, SpecError
from reelkube.scenes.brief import AssetKind, LibraryAsset, Orientation, StockMediaKind, StockSpec, Visual
from reelkube.scenes.library import choose_visuals
from reelkube.scenes.splitting import SceneDraft
from reelkube.scenes.stock import API_KEY_ENV, URL_ENV, PexelsClient, orientation_of_size, stock_provider
from support.pexels_server import API_KEY, serve_pexels


def test_photo_search() -> None:
    with serve_pexels() as server:
        client = PexelsClient(api_key=API_KEY, spec=StockSpec(results=3, size="large"), base_url=server.url)
        assets = client.search("ocean waves", Orientation.PORTRAIT)
        client.search("ocean waves", Orientation.PORTRAIT)  # answered from the cache
    assert server.requests == [
        {"path": "/v1/search", "key": API_KEY,
         "params": {"query": "ocean waves", "per_page": "3", "size": "large", "orientation": "portrait"}},
    ]  # fmt: skip
    assert [a.id for a in assets] == ["pexels-photo-100", "pexels-photo-101", "pexels-photo-102"]
    first = assets[0]
    assert first.kind == AssetKind.IMAGE and first.src.startswith("https://images.pexels.com/photos/100/")
    assert "dpr=2" in first.src  # large2x
    assert first.attribution == "Photo by Photographer 100 on Pexels (https://www.pexels.com/photo/100/)"
    assert [a.orientation for a in assets] == [
        Orientation.LANDSCAPE,
        Orientation.PORTRAIT,
        Orientation.SQUARE,
    ]


def test_video_search_takes_the_largest_file_up_to_1080_lines() -> None:
    with serve_pexels() as server:
        spec = StockSpec(media=StockMediaKind.VIDEO)
        assets = PexelsClient(api_key=API_KEY, spec=spec, base_url=server.url).search(
            "city", Orientation.LANDSCAPE
        )
    assert server.requests[0]["path"] == "/videos/search"
    assert [a.src for a in assets] == [
        "https://videos.pexels.com/video-files/200/hd.mp4",
        "https://videos.pexels.com/video-files/201/hd.mp4",
    ]
    assert assets[0].kind == AssetKind.VIDEO
    assert assets[0].attribution == "Video by Filmmaker 200 on Pexels (https://www.pexels.com/video/200/)"


def test_stock_answers_what_the_library_cannot() -> None:
    library = [LibraryAsset(id="sea", src="sea.jpg", tags=["ocean"])]
    drafts = [
        SceneDraft(index=i, sentences=("Words.",), visual=Visual(query=q))
        for i, q in enumerate(["ocean", "volcano", "volcano", "nothing at all"])
    ]
    with serve_pexels() as server:
        client = PexelsClient(api_key=API_KEY, base_url=server.url)
        chosen = choose_visuals(drafts, library, Orientation.LANDSCAPE, "#204060", client.search)
    assert [c.source for c in chosen] == ["library", "stock", "stock", "fallback"]
    # Never the same stock asset twice in a row; rank gives the score.
    assert [c.asset_id for c in chosen[1:3]] == ["pexels-photo-100", "pexels-photo-101"]
    assert chosen[1].score == pytest.approx(1.0) and chosen[2].score == pytest.approx(0.75)
    assert chosen[1].attribution and chosen[1].to_dict()["attribution"].startswith("Photo by")
    # The library's match never reached the provider.
    assert [r["params"]["query"] for r in server.requests] == ["volcano", "nothing at all"]


def test_a_wrong_key_is_a_spec_error() -> None:
    with serve_pexels() as server, pytest.raises(SpecError, match="refused the API key"):
        PexelsClient(api_key="wrong", base_url=server.url).search("ocean", Orientation.LANDSCAPE)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (503, True), (500, True), (400, False)])
def test_a_failed_search_is_transient_or_permanent_as_its_status_says(status: int, retryable: bool) -> None:
    with serve_pexels() as server, pytest.raises(InputError, match=f"HTTP {status}") as raised:
        PexelsClient(api_key=API_KEY, spec=StockSpec(), base_url=server.url).search(
            f"status-{status} waves", Orientation.PORTRAIT
        )
    assert raised.value.retryable is retryable
    assert isinstance(raised.value, InputRejected) is not retryable


def test_an_unreachable_stock_service_is_transient(closed_port_url: str) -> None:
    with pytest.raises(InputError, match="stock search on Pexels failed") as raised:
        PexelsClient(api_key=API_KEY, spec=StockSpec(), base_url=closed_port_url).search(
            "waves", Orientation.PORTRAIT
        )
    assert raised.value.retryable


def test_provider_needs_the_installations_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stock_provider(None) is None
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(SpecError, match="not enabled here"):
        stock_provider(StockSpec())
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9")
    provider = stock_provider(StockSpec())
    assert isinstance(provider, PexelsClient) and provider.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("width", "height", "orientation"),
    [
        (1920, 1080, Orientation.LANDSCAPE),
        (1080, 1920, Orientation.PORTRAIT),
        (1000, 980, Orientation.SQUARE),
    ],
)
def test_orientation_of_size(width: int, height: int, orientation: Orientation) -> None:
    assert orientation_of_size(width, height) == orientation
