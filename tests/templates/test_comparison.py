"""The comparison's two subjects get their pictures the way scenes do: the library's best match
for the name (or the subject's query), stock media where the brief asks for it and the library
has nothing, else a fallback colour. Pexels is a local stand-in in its published response format
(support/pexels_server.py); it cannot be reached from the test machines. No ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api.output import OutputSpec
from reelkube.scenes.stock import API_KEY_ENV, URL_ENV
from reelkube.templates.base import TemplateContext
from reelkube.templates.comparison import ComparisonProps, subject_visuals
from reelkube.templates.explainer import explainer_canvas
from support.pexels_server import API_KEY, serve_pexels

LIBRARY = {"assets": [{"id": "desert", "src": "desert.jpg", "tags": ["desert", "sand"]}]}


def props(**extra: object) -> ComparisonProps:
    return ComparisonProps.model_validate(
        {
            "a": {"name": "Desert"},
            "b": {"name": "Volcano"},
            "rows": [{"attribute": "Heat", "a": "Hot", "b": "Hotter"}],
            "verdict": {"text": "Both are hot"},
            "library": LIBRARY,
            **extra,
        }
    )


def test_subjects_take_the_library_then_stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = TemplateContext(output=OutputSpec(), workdir=tmp_path, base_dir=tmp_path)
    brief = props(stock={"provider": "pexels", "results": 2})
    with serve_pexels() as server:
        monkeypatch.setenv(API_KEY_ENV, API_KEY)
        monkeypatch.setenv(URL_ENV, server.url)
        a, b = subject_visuals(brief, context, explainer_canvas(brief, context))
    assert (a.source, a.asset_id) == ("library", "desert")
    assert (b.source, b.asset_id, b.query) == ("stock", "pexels-photo-100", "Volcano")
    assert b.attribution and b.attribution.startswith("Photo by Photographer 100 on Pexels")
    assert [r["params"]["query"] for r in server.requests] == ["Volcano"]


def test_without_stock_a_subject_the_library_cannot_answer_gets_a_colour(tmp_path: Path) -> None:
    context = TemplateContext(output=OutputSpec(), workdir=tmp_path, base_dir=tmp_path)
    brief = props()
    a, b = subject_visuals(brief, context, explainer_canvas(brief, context))
    assert a.source == "library" and b.source == "fallback" and b.color and b.src is None
