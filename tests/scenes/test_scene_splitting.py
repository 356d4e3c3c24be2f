"""Script and scene-list splitting: scenes per sentence, sections per paragraph, short sentences
merged and long ones split, queries made from content words. No ffmpeg, no Piper."""

from __future__ import annotations

import pytest

from reelkube.scenes.brief import AssetKind, OnScreenText, SceneSpec, Visual
from reelkube.scenes.splitting import (
    content_words,
    drafts_from_scenes,
    drafts_from_script,
    heading_for,
    query_for,
    url_kind,
)


def test_one_scene_per_sentence_and_sections_per_paragraph() -> None:
    script = (
        "The sun pours energy on the desert every single day.\n"
        "Wind turns over the ocean along the coast at night.\n\n"
        "Cities glow with that power long after it gets dark."
    )
    drafts = drafts_from_script(script)
    assert [d.narration for d in drafts] == [
        "The sun pours energy on the desert every single day.",
        "Wind turns over the ocean along the coast at night.",
        "Cities glow with that power long after it gets dark.",
    ]
    assert [d.section for d in drafts] == [0, 0, 1]
    assert [d.index for d in drafts] == [0, 1, 2]
    # Each section's first scene is headed; the others are not.
    assert [d.text.heading is not None for d in drafts] == [True, False, True]


def test_very_short_sentences_merge_into_a_neighbour() -> None:
    drafts = drafts_from_script("It works. The storyboard shows every scene before the render starts.")
    assert len(drafts) == 1
    assert drafts[0].narration.startswith("It works. The storyboard")


def test_very_long_sentences_split_at_a_clause() -> None:
    long = (
        "The grid of tomorrow balances supply and demand every second of the day, "
        "and it stores the surplus of sunny afternoons in batteries for the evening peak."
    )
    drafts = drafts_from_script(long)
    assert len(drafts) == 2
    assert all(len(d.narration.split()) <= 20 for d in drafts)


def test_headings_can_be_left_out() -> None:
    drafts = drafts_from_script("One paragraph with enough words in it to stand alone.", headings=False)
    assert drafts[0].text.heading is None


@pytest.mark.parametrize(
    ("sentence", "heading"),
    [
        ("Short one.", "Short one"),
        ("Six words make a heading here.", "Six words make a heading here"),
        ("Seven words are one too many here now.", "Seven words are one too many…"),
    ],
)
def test_heading_for(sentence: str, heading: str) -> None:
    assert heading_for(sentence) == heading


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The sun and THE sun!", ["sun"]),
        ("In 2024 we built 3 new solar farms.", ["built", "solar", "farms"]),
        ("It is what it is.", []),
    ],
)
def test_content_words(text: str, words: list[str]) -> None:
    assert content_words(text) == words


def test_query_is_none_without_content_words() -> None:
    assert query_for("It is what it is.") is None
    assert query_for("Seven bright ocean waves roll onto the quiet beach today") == (
        "seven bright ocean waves roll onto"
    )


def test_scene_list_keeps_text_visuals_and_overrides() -> None:
    scenes = [
        SceneSpec(narration="Waves roll onto the beach all day long.", text=OnScreenText(heading="Waves")),
        SceneSpec(visual=Visual(url="clips/intro.mp4"), duration=2.0, transition="fade"),
        SceneSpec(narration="Nothing to see.", visual=Visual(query="forest"), layout="card"),
    ]
    drafts = drafts_from_scenes(scenes)
    assert drafts[0].visual == Visual(query="waves roll onto beach day long")
    assert drafts[0].text.heading == "Waves"
    assert drafts[1].sentences == () and drafts[1].min_duration == 2.0 and drafts[1].transition == "fade"
    assert drafts[1].visual == Visual(url="clips/intro.mp4")
    assert drafts[2].layout == "card" and drafts[2].visual == Visual(query="forest")


@pytest.mark.parametrize(
    ("url", "declared", "kind"),
    [
        ("a/b.mp4", None, AssetKind.VIDEO),
        ("https://x.test/c.MOV?sig=1", None, AssetKind.VIDEO),
        ("a/b.jpg", None, AssetKind.IMAGE),
        ("https://x.test/stream", AssetKind.VIDEO, AssetKind.VIDEO),
    ],
)
def test_url_kind(url: str, declared: AssetKind | None, kind: AssetKind) -> None:
    assert url_kind(url, declared) == kind
