"""Visual choice: the relevance score, its ranking, and the per-scene rules (URL as given, best
asset for a query, never the same asset twice in a row, orientation fit preferred, a fallback
card where nothing matches). Pure: no ffmpeg."""

from __future__ import annotations

import pytest

from reelkube.scenes.brief import AssetKind, LibraryAsset, Orientation, Visual
from reelkube.scenes.library import (
    DESCRIPTION_WEIGHT,
    ORIENTATION_BONUS,
    TAG_WEIGHT,
    choose_visuals,
    fallback_palette,
    rank_assets,
    relevance,
    stem,
)
from reelkube.scenes.splitting import SceneDraft


def asset(asset_id: str, tags: list[str], description: str = "", **fields: object) -> LibraryAsset:
    """A library asset with a src named after its id."""
    return LibraryAsset.model_validate(
        {"id": asset_id, "src": f"lib/{asset_id}.jpg", "tags": tags, "description": description, **fields}
    )


def draft(
    index: int, *, query: str | None = None, url: str | None = None, layout: str | None = None
) -> SceneDraft:
    visual = Visual(query=query) if query else Visual(url=url) if url else None
    return SceneDraft(index=index, sentences=("Words.",), visual=visual, layout=layout)


OCEAN = asset("ocean", ["ocean", "water"], "Blue waves on a beach.")
OCEAN_TALL = asset("ocean-tall", ["ocean", "water"], "Blue waves on a beach.", orientation="portrait")
FOREST = asset("forest", ["forest", "trees"], "Green leaves in the sun.")
SUN = asset("sun", ["sun"], "", orientation="square")
LIBRARY = [OCEAN, FOREST, OCEAN_TALL, SUN]


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [("mountains", "mountain"), ("cities", "city"), ("glass", "glass"), ("glowing", "glow"), ("sun", "sun")],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("query", "item", "orientation", "expected"),
    [
        # Every word a tag: 1, plus the fit bonus.
        ("ocean water", OCEAN, Orientation.LANDSCAPE, 1 + ORIENTATION_BONUS),
        ("ocean water", OCEAN, Orientation.PORTRAIT, 1.0),
        # One tag word, one description word, one miss.
        (
            "ocean waves mountain",
            OCEAN,
            Orientation.PORTRAIT,
            (TAG_WEIGHT + DESCRIPTION_WEIGHT) / (3 * TAG_WEIGHT),
        ),
        # Plurals find singular tags.
        ("oceans", OCEAN, Orientation.PORTRAIT, 1.0),
        # No word matches: 0, whatever the fit.
        ("mountain snow", OCEAN, Orientation.LANDSCAPE, 0.0),
        # A square asset half fits any frame.
        ("sun", SUN, Orientation.PORTRAIT, 1 + ORIENTATION_BONUS / 2),
        # Only stopwords: nothing to match.
        ("the and of", OCEAN, Orientation.LANDSCAPE, 0.0),
    ],
)
def test_relevance(query: str, item: LibraryAsset, orientation: Orientation, expected: float) -> None:
    assert relevance(query, item, orientation) == pytest.approx(expected)


def test_ranking_prefers_the_matching_orientation_and_keeps_library_order_on_ties() -> None:
    landscape = [a.id for _, a in rank_assets("ocean", LIBRARY, Orientation.LANDSCAPE)]
    portrait = [a.id for _, a in rank_assets("ocean", LIBRARY, Orientation.PORTRAIT)]
    assert landscape == ["ocean", "ocean-tall"]
    assert portrait == ["ocean-tall", "ocean"]
    twins = [asset("b", ["kelp"]), asset("a", ["kelp"])]
    assert [a.id for _, a in rank_assets("kelp", twins, Orientation.LANDSCAPE)] == ["b", "a"]


def test_choice_per_scene() -> None:
    drafts = [
        draft(0, query="ocean waves"),
        draft(1, query="ocean water"),  # the best is ocean again: the next best is taken
        draft(2, url="clips/intro.mp4"),
        draft(3, query="mountain snow"),  # nothing matches: a fallback card
        draft(4),  # no visual at all: a fallback card
        draft(5, query="forest", layout="card"),  # the card layout forces the card
    ]
    chosen = choose_visuals(drafts, LIBRARY, Orientation.LANDSCAPE, "#204060")
    assert [c.source for c in chosen] == ["library", "library", "url", "fallback", "fallback", "fallback"]
    assert [c.asset_id for c in chosen[:2]] == ["ocean", "ocean-tall"]
    assert chosen[0].src == "lib/ocean.jpg" and chosen[0].score == pytest.approx(4 / 6 + ORIENTATION_BONUS)
    assert chosen[2].kind == AssetKind.VIDEO and chosen[2].src == "clips/intro.mp4"
    assert chosen[3].query == "mountain snow" and chosen[3].src is None
    # Fallback colours cycle with the scene index, so neighbouring cards differ.
    palette = fallback_palette("#204060")
    assert [c.color for c in chosen[3:]] == [palette[0], palette[1], palette[2]]
    assert len(set(palette)) == 3


def test_no_asset_twice_in_a_row_even_when_it_is_the_only_match() -> None:
    chosen = choose_visuals([draft(0, query="forest"), draft(1, query="forest"), draft(2, query="forest")],
                            LIBRARY, Orientation.LANDSCAPE, "#204060")  # fmt: skip
    assert [c.source for c in chosen] == ["library", "fallback", "library"]


def test_choice_is_deterministic() -> None:
    drafts = [draft(i, query=q) for i, q in enumerate(["ocean", "sun forest", "ocean", "trees"])]
    first = choose_visuals(drafts, LIBRARY, Orientation.PORTRAIT, "#000000")
    assert first == choose_visuals(drafts, LIBRARY, Orientation.PORTRAIT, "#000000")


def test_storyboard_form_leaves_empty_fields_out() -> None:
    chosen = choose_visuals([draft(0, query="ocean")], [OCEAN.model_copy(update={"attribution": "CC0"})],
                            Orientation.LANDSCAPE, "#000000")  # fmt: skip
    assert chosen[0].to_dict() == {
        "source": "library", "src": "lib/ocean.jpg", "kind": "image", "assetId": "ocean",
        "score": 1.1, "query": "ocean", "attribution": "CC0",
    }  # fmt: skip
