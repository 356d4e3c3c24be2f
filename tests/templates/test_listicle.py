"""The listicle's items as scenes: an intro card, then one scene per item numbered up from 1 or
down to 1, its title as the heading, its visual as given or a query from its words. No ffmpeg."""

from __future__ import annotations

import pytest

from reelkube.templates.listicle import ListicleProps, item_number, listicle_scenes

ITEMS = [
    {"title": "The forest", "narration": "Forests breathe."},
    {"title": "The mountains", "narration": "Peaks store water."},
    {"title": "The ocean", "narration": "The ocean is deep.", "visual": {"query": "ocean waves"}},
]


@pytest.mark.parametrize(("countdown", "numbers"), [(False, [1, 2, 3]), (True, [3, 2, 1])])
def test_items_count_up_or_down(countdown: bool, numbers: list[int]) -> None:
    props = ListicleProps.model_validate({"title": "Three things", "items": ITEMS, "countdown": countdown})
    scenes = listicle_scenes(props)
    intro, items = scenes[0], scenes[1:]
    assert intro.layout == "card" and intro.text.number is None and intro.narration == "Three things"
    assert [s.text.number for s in items] == numbers
    assert [item_number(n, 3, countdown) for n in range(3)] == numbers
    assert [s.text.heading for s in items] == ["The forest", "The mountains", "The ocean"]
    assert [s.visual.query if s.visual else None for s in items] == [
        "The forest Forests breathe.",
        "The mountains Peaks store water.",
        "ocean waves",
    ]
