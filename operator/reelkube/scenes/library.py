"""Visuals per scene: a URL as given, the best asset of the library for a query, or a designed
fallback card. Pure and deterministic: the same brief and library always choose the same assets.

Relevance of an asset to a query (each query word counted once, words compared by a light stem):
a word among the asset's tags counts TAG_WEIGHT, a word only in its description DESCRIPTION_WEIGHT;
the sum is divided by the best possible (every word a tag), so relevance lies in [0, 1]. An asset
whose orientation matches the output's gets ORIENTATION_BONUS (a square one half of it), but only
when some word matched: fit breaks ties, it never makes a match. Equal scores keep library order.
The asset chosen for the previous scene is never chosen again (the next best is); a query the
library cannot answer goes to the stock provider when the brief enables one (`stock`); with no
match the scene gets a fallback card, never a failed render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from reelkube.scenes.brief import AssetKind, LibraryAsset, Orientation
from reelkube.scenes.splitting import SceneDraft, content_words, url_kind

TAG_WEIGHT = 3.0
DESCRIPTION_WEIGHT = 1.0
ORIENTATION_BONUS = 0.1

VisualSource = Literal["url", "library", "stock", "fallback"]


@dataclass(frozen=True)
class ChosenVisual:
    """What a scene shows and why."""

    source: VisualSource
    src: str | None = None
    """The media to show (None for a fallback card)."""
    kind: AssetKind | None = None
    asset_id: str | None = None
    score: float | None = None
    """Relevance of the library asset (0..1 plus the orientation bonus)."""
    query: str | None = None
    attribution: str | None = None
    color: str | None = None
    """The fallback card's colour."""

    def to_dict(self) -> dict[str, object]:
        """The storyboard's form (camelCase, empty fields left out)."""
        data = {
            "source": self.source,
            "src": self.src,
            "kind": self.kind.value if self.kind else None,
            "assetId": self.asset_id,
            "score": round(self.score, 4) if self.score is not None else None,
            "query": self.query,
            "attribution": self.attribution,
            "color": self.color,
        }
        return {key: value for key, value in data.items() if value is not None}


def stem(word: str) -> str:
    """A light English stem, so `mountains` finds `mountain` and `cities` finds `city`."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def stems(text: str) -> set[str]:
    """The stems of the content words of `text`."""
    return {stem(word) for word in content_words(text)}


def relevance(query: str, asset: LibraryAsset, orientation: Orientation) -> float:
    """How well `asset` answers `query` (see the module docstring); 0 when no word matches."""
    words = stems(query)
    if not words:
        return 0.0
    tags = set().union(*(stems(tag) for tag in asset.tags)) if asset.tags else set()
    description = stems(asset.description)
    total = sum(
        TAG_WEIGHT if word in tags else DESCRIPTION_WEIGHT if word in description else 0.0 for word in words
    )
    if total == 0:
        return 0.0
    score = total / (TAG_WEIGHT * len(words))
    if asset.orientation == orientation:
        score += ORIENTATION_BONUS
    elif asset.orientation == Orientation.SQUARE:
        score += ORIENTATION_BONUS / 2
    return score


def rank_assets(
    query: str, assets: Sequence[LibraryAsset], orientation: Orientation
) -> list[tuple[float, LibraryAsset]]:
    """Matching assets, best first (ties in library order)."""
    scored = [(relevance(query, asset, orientation), n, asset) for n, asset in enumerate(assets)]
    scored = [item for item in scored if item[0] > 0]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(score, asset) for score, _, asset in scored]


def fallback_palette(primary: str) -> list[str]:
    """Colours fallback cards cycle through: three darker shades of the brand colour, so two
    fallback scenes in a row differ, and neither matches the brand-coloured title and end cards."""
    return [shade(primary, 0.75), shade(primary, 0.5), shade(primary, 0.62)]


def shade(color: str, factor: float) -> str:
    """`color` (#rrggbb) with each channel scaled by `factor` (below 1 darkens)."""
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{min(255, round(c * factor)):02x}" for c in channels)


StockSearch = Callable[[str, Orientation], list[LibraryAsset]]
"""A stock provider's search: candidates for a query, best first."""


def choose_visuals(
    drafts: Sequence[SceneDraft],
    assets: Sequence[LibraryAsset],
    orientation: Orientation,
    primary_color: str,
    stock: StockSearch | None = None,
) -> list[ChosenVisual]:
    """One visual per draft, in order (see the module docstring for the rules). With `stock`, a
    query the library cannot answer goes to the stock provider (its first candidate not shown in
    the previous scene, scored by rank) before falling back to a card."""
    palette = fallback_palette(primary_color)
    chosen: list[ChosenVisual] = []
    previous_asset: str | None = None
    for draft in drafts:
        visual = draft.visual
        pick: ChosenVisual | None = None
        if draft.layout == "card":
            pick = None
        elif visual is not None and visual.url:
            pick = ChosenVisual(source="url", src=visual.url, kind=url_kind(visual.url, visual.kind))
        elif visual is not None and visual.query:
            for score, asset in rank_assets(visual.query, assets, orientation):
                if asset.id != previous_asset:
                    pick = ChosenVisual(
                        source="library",
                        src=asset.src,
                        kind=asset.kind,
                        asset_id=asset.id,
                        score=score,
                        query=visual.query,
                        attribution=asset.attribution,
                    )
                    break
        if (
            pick is None
            and stock is not None
            and visual is not None
            and visual.query
            and draft.layout != "card"
        ):
            candidates = stock(visual.query, orientation)
            for rank, asset in enumerate(candidates):
                if asset.id != previous_asset:
                    pick = ChosenVisual(
                        source="stock",
                        src=asset.src,
                        kind=asset.kind,
                        asset_id=asset.id,
                        score=round(1 - rank / (len(candidates) + 1), 4),
                        query=visual.query,
                        attribution=asset.attribution,
                    )
                    break
        if pick is None:
            query = visual.query if visual is not None else None
            pick = ChosenVisual(source="fallback", query=query, color=palette[draft.index % len(palette)])
        previous_asset = pick.asset_id
        chosen.append(pick)
    return chosen
