"""Stock media providers: where a scene's query goes when the asset library has no match.

A provider turns a query into candidate assets (`LibraryAsset`s, attribution included, kept in
the storyboard); the scene layer takes the first that was not shown in the previous scene. The
media itself is fetched later by the engine, through the same input policy as every other URL.

One implementation: Pexels (https://www.pexels.com/api/documentation/), photo search
(`GET /v1/search`) and video search (`GET /videos/search`) with orientation and size filters.
The API key comes from the environment (`REELKUBE_PEXELS_API_KEY`, which the render pod takes
from the Secret the chart names in `stock.pexels.secretName`, see `api.provider_secrets`);
`REELKUBE_PEXELS_URL` (`stock.pexels.url`) points at another server (tests use a local one that
answers in Pexels' published format).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from reelkube.api.provider_secrets import PEXELS_API_KEY_ENV, PEXELS_URL_ENV
from reelkube.errors import InputError, InputRejected, SpecError
from reelkube.scenes.brief import AssetKind, LibraryAsset, Orientation, StockMediaKind, StockSpec

log = logging.getLogger(__name__)

PEXELS_URL = "https://api.pexels.com"
API_KEY_ENV = PEXELS_API_KEY_ENV
URL_ENV = PEXELS_URL_ENV
TIMEOUT_SECONDS = 15.0


class StockProvider(Protocol):
    """Searches a stock library: candidates for `query`, best first."""

    def search(self, query: str, orientation: Orientation) -> list[LibraryAsset]: ...


@dataclass
class PexelsClient:
    """Pexels' search API over httpx."""

    api_key: str
    spec: StockSpec = field(default_factory=StockSpec)
    base_url: str = PEXELS_URL
    cache: dict[tuple[str, Orientation], list[LibraryAsset]] = field(default_factory=dict)

    def search(self, query: str, orientation: Orientation) -> list[LibraryAsset]:
        """Photos or videos for `query` in `orientation`, as assets with their attribution."""
        key = (query, orientation)
        if key not in self.cache:
            self.cache[key] = self._search(query, orientation)
        return self.cache[key]

    def _search(self, query: str, orientation: Orientation) -> list[LibraryAsset]:
        import httpx

        videos = self.spec.media == StockMediaKind.VIDEO
        path = "/videos/search" if videos else "/v1/search"
        params: dict[str, str | int] = {
            "query": query,
            "per_page": self.spec.results,
            "size": self.spec.size.value,
        }
        params["orientation"] = orientation.value
        try:
            response = httpx.get(
                self.base_url.rstrip("/") + path,
                params=params,
                headers={"Authorization": self.api_key},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            # The network, not the brief: another attempt may get through.
            raise InputError(f"stock search on Pexels failed: {error}") from error
        status = response.status_code
        if status in (401, 403):
            raise SpecError(
                f"Pexels refused the API key (HTTP {status}): check the key in the Secret named by "
                "the chart's stock.pexels.secretName"
            )
        if status == 429 or status >= 500:
            # Rate limit spent or Pexels down: transient, retried as spec.retries allows.
            raise InputError(f"stock search on Pexels failed: HTTP {status}")
        if status != 200:
            raise InputRejected(f"stock search on Pexels refused the request: HTTP {status}")
        data = response.json()
        items = data.get("videos" if videos else "photos") or []
        assets = [
            asset for item in items if (asset := (pexels_video(item) if videos else pexels_photo(item)))
        ]
        log.info("event=stock_search provider=pexels query=%r results=%d", query, len(assets))
        return assets


def pexels_photo(item: dict[str, Any]) -> LibraryAsset | None:
    """An asset from one entry of Pexels' photo search (`src.large2x`, the photographer credited)."""
    src = (item.get("src") or {}).get("large2x") or (item.get("src") or {}).get("original")
    if not src:
        return None
    return LibraryAsset(
        id=f"pexels-photo-{item['id']}",
        src=src,
        kind=AssetKind.IMAGE,
        description=str(item.get("alt") or "")[:1000],
        orientation=orientation_of_size(int(item.get("width") or 0), int(item.get("height") or 0)),
        attribution=f"Photo by {item.get('photographer', 'unknown')} on Pexels ({item.get('url', '')})",
    )


def pexels_video(item: dict[str, Any]) -> LibraryAsset | None:
    """An asset from one entry of Pexels' video search: its largest mp4 file up to 1080 lines."""
    files = [f for f in item.get("video_files") or [] if f.get("file_type") == "video/mp4" and f.get("link")]
    if not files:
        return None
    fitting = [f for f in files if min(int(f.get("width") or 0), int(f.get("height") or 0)) <= 1080]
    chosen = max(fitting or files, key=lambda f: int(f.get("width") or 0) * int(f.get("height") or 0))
    user = item.get("user") or {}
    return LibraryAsset(
        id=f"pexels-video-{item['id']}",
        src=chosen["link"],
        kind=AssetKind.VIDEO,
        orientation=orientation_of_size(int(item.get("width") or 0), int(item.get("height") or 0)),
        attribution=f"Video by {user.get('name', 'unknown')} on Pexels ({item.get('url', '')})",
    )


def orientation_of_size(width: int, height: int) -> Orientation:
    """The shape of a width x height picture (square within 5%)."""
    if width and height and abs(width - height) <= 0.05 * max(width, height):
        return Orientation.SQUARE
    return Orientation.PORTRAIT if height > width else Orientation.LANDSCAPE


def stock_provider(spec: StockSpec | None) -> StockProvider | None:
    """The provider a brief asks for, set up from the environment; None when it asks for none.
    A SpecError when the installation has not enabled it (no API key)."""
    if spec is None:
        return None
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise SpecError(
            f"spec.props.stock: stock media from {spec.provider.value} is not enabled here (the render "
            f"pod takes {API_KEY_ENV} from the Secret the chart names in stock.pexels.secretName, "
            "in the resource's namespace)",
            reason="StockNotEnabled",
        )
    return PexelsClient(api_key=key, spec=spec, base_url=os.environ.get(URL_ENV, PEXELS_URL))
