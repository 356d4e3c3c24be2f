"""The storyboard's JSON, the contact sheet's geometry and labels, the asset library's index
(relative sources, duplicates, bad files), and `reelkube storyboard` refusing templates without
scenes. No ffmpeg, no Piper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.cli import EXIT_BAD_INPUT, main
from reelkube.errors import SpecError
from reelkube.scenes.brief import AssetLibrary, LibraryAsset, OnScreenText
from reelkube.scenes.contact_sheet import grid, label_for, tile_size
from reelkube.scenes.library import ChosenVisual
from reelkube.scenes.planning import estimated_timings, load_library, resolve_relative
from reelkube.scenes.storyboard import Card, Storyboard, StoryboardScene
from reelkube.templates.base import TemplateContext


def scene(index: int, start: float, end: float, **text: str) -> StoryboardScene:
    return StoryboardScene(
        index=index, start=start, end=end, speech_start=start + 0.2, narration=f"Scene {index} says this.",
        text=OnScreenText(**text), visual=ChosenVisual(source="fallback", query="snow", color="#102030"),
    )  # fmt: skip


def test_storyboard_json(tmp_path: Path) -> None:
    board = Storyboard(
        format="explainer", width=1920, height=1080, fps=30, duration=9.5,
        scenes=[scene(0, 2.0, 5.0, heading="Snow"), scene(1, 5.0, 7.0)],
        cards=[Card("title", 0.0, 2.0, "Winter"), Card("outro", 7.0, 9.5, "Bye")],
        extras={"subjects": []},
    )  # fmt: skip
    data = json.loads(board.write(tmp_path / "storyboard.json").read_text())
    assert data["version"] == 1 and data["format"] == "explainer" and data["duration"] == 9.5
    assert data["cards"][0] == {"kind": "title", "start": 0.0, "end": 2.0, "text": "Winter"}
    assert data["scenes"][0] == {
        "index": 0, "start": 2.0, "end": 5.0, "speechStart": 2.2, "narration": "Scene 0 says this.",
        "text": {"heading": "Snow"}, "visual": {"source": "fallback", "query": "snow", "color": "#102030"},
    }  # fmt: skip
    assert data["subjects"] == []


@pytest.mark.parametrize(
    ("count", "expected"), [(1, (1, 1)), (3, (3, 1)), (4, (4, 1)), (5, (4, 2)), (9, (4, 3))]
)
def test_grid(count: int, expected: tuple[int, int]) -> None:
    assert grid(count) == expected


def test_tile_size_keeps_the_frame_shape() -> None:
    assert tile_size(1920, 1080) == (320, 180)
    assert tile_size(1080, 1920) == (180, 320)


def test_label() -> None:
    assert label_for(scene(2, 4.25, 7.9, heading="Snow")) == "3  4.2-7.9s  Snow"
    long = label_for(scene(0, 0, 1, heading="A heading far too long to fit on the label of one tile"))
    assert long.endswith("…") and len(long.split("  ", 2)[2]) <= 38
    assert label_for(scene(0, 0, 1)) == "1  0.0-1.0s  Scene 0 says this."


@pytest.mark.parametrize(
    ("src", "index", "resolved"),
    [
        ("a.jpg", "assets/library/index.yaml", "assets/library/a.jpg"),
        ("clips/b.mp4", "index.yaml", "clips/b.mp4"),
        ("a.jpg", "https://cdn.test/lib/index.json", "https://cdn.test/lib/a.jpg"),
        ("a.jpg", "s3://bucket/lib/index.yaml", "s3://bucket/lib/a.jpg"),
        ("https://x.test/c.jpg", "s3://bucket/lib/index.yaml", "https://x.test/c.jpg"),
        ("/abs/d.jpg", "assets/index.yaml", "/abs/d.jpg"),
    ],
)
def test_resolve_relative(src: str, index: str, resolved: str) -> None:
    assert resolve_relative(src, index) == resolved


def context(tmp_path: Path) -> TemplateContext:
    return TemplateContext(output=OutputSpec(), workdir=tmp_path / "work", base_dir=tmp_path)


def test_library_from_inline_assets_and_an_index(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "index.yaml").write_text(
        "assets:\n  - {id: snow, src: snow.jpg, tags: [snow], orientation: portrait}\n"
    )
    library = AssetLibrary(assets=[LibraryAsset(id="sea", src="sea.jpg")], indexUrl="lib/index.yaml")
    assets = load_library(library, context(tmp_path))
    assert [(a.id, a.src) for a in assets] == [("sea", "sea.jpg"), ("snow", "lib/snow.jpg")]


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("assets:\n  - {id: sea, src: x.jpg}\n", "used twice"),
        ("just: text\n", "no `assets` list"),
        ("assets:\n  - {id: snow}\n", "asset 0"),
    ],
)
def test_bad_libraries_are_spec_errors(tmp_path: Path, index: str, message: str) -> None:
    (tmp_path / "index.yaml").write_text(index)
    library = AssetLibrary(assets=[LibraryAsset(id="sea", src="sea.jpg")], indexUrl="index.yaml")
    with pytest.raises(SpecError, match=message):
        load_library(library, context(tmp_path))


def test_estimated_timings_leave_the_sentence_silence_between_sentences() -> None:
    timings = estimated_timings(["One two three four five six.", "Seven eight nine."], silence=0.5)
    first, second = timings.sentences
    assert second.start == pytest.approx(first.end + 0.5)
    assert first.end - first.start == pytest.approx(2 * (second.end - second.start), rel=0.01)
    assert timings.duration == pytest.approx(second.end + 0.5)
    assert timings.word_timing_source == "estimated"


def test_storyboard_command_refuses_a_template_without_scenes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "reel.yaml"
    manifest.write_text(
        "apiVersion: reelkube.io/v1alpha1\nkind: RenderJob\nmetadata: {name: reel}\n"
        "spec: {template: captioned-reel, props: {title: Hi, backgroundUrl: bg.jpg}}\n"
    )
    assert main(["storyboard", str(manifest), "-o", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "has no scenes to storyboard" in capsys.readouterr().err
