"""Batch rows: typing cells by the template's props model, and every bad row named by row and
column before anything is created (pure: no cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reelkube.client.batch import RowProblem, name_from_value, plan_batch, read_rows, type_text
from reelkube.client.resources import BATCH_LABEL
from reelkube.errors import SpecError

TEMPLATE: dict[str, Any] = {
    "apiVersion": "reelkube.io/v1alpha1",
    "kind": "RenderJob",
    "metadata": {"name": "listing", "labels": {"team": "ads"}},
    "spec": {
        "template": "captioned-reel",
        "props": {"backgroundUrl": "s3://bucket/bg.jpg", "durationSeconds": 2},
        "output": {"preset": "veryfast"},
    },
}


@pytest.mark.parametrize(
    ("text", "annotation", "expected"),
    [
        ("12", int, 12),
        (" 12 ", int | None, 12),
        ("1.5", float, 1.5),
        ("3", float, 3.0),
        ("true", bool, True),
        ("No", bool, False),
        ("0", bool | None, False),
        ("maybe", bool, "maybe"),  # left as text: validation names the expected type
        ("abc", float, "abc"),
        ("a;b; c", list[str], ["a", "b", "c"]),
        ('["a", "b;c"]', list[str], ["a", "b;c"]),
        ("1;2", list[int], [1, 2]),
        ('{"x": 1}', dict[str, int], {"x": 1}),
        ("hello, world", str, "hello, world"),
    ],
)
def test_cells_are_typed_by_the_prop_annotation(text: str, annotation: Any, expected: Any) -> None:
    assert type_text(text, annotation) == expected


def test_good_rows_become_labelled_resources_with_typed_props() -> None:
    rows: list[dict[str | None, Any]] = [
        {"slug": "Sea View #1", "title": "Sea view", "overlayOpacity": "0.2", "durationSeconds": "3"},
        {"slug": "hill-top", "title": "Hill top", "overlayOpacity": "", "durationSeconds": ""},
    ]
    plan = plan_batch(TEMPLATE, rows, name_from="slug", batch_id="b1")
    assert plan.problems == []
    assert [(r.row, r.name) for r in plan.rows] == [(1, "sea-view-1"), (2, "hill-top")]
    first, second = (r.body for r in plan.rows)
    assert first["spec"]["props"] == {
        "backgroundUrl": "s3://bucket/bg.jpg",
        "durationSeconds": 3.0,
        "title": "Sea view",
        "overlayOpacity": 0.2,
    }
    # Empty cells keep the template's value (or the prop's default).
    assert second["spec"]["props"] == {
        "backgroundUrl": "s3://bucket/bg.jpg",
        "durationSeconds": 2,
        "title": "Hill top",
    }
    assert first["metadata"]["labels"] == {"team": "ads", BATCH_LABEL: "b1"}
    assert first["spec"]["output"] == {"preset": "veryfast"}
    assert TEMPLATE["spec"]["props"] == {"backgroundUrl": "s3://bucket/bg.jpg", "durationSeconds": 2}


def test_names_default_to_the_manifest_name_and_row() -> None:
    plan = plan_batch(TEMPLATE, [{"title": "a"}, {"title": "b"}], batch_id="b1")
    assert [r.name for r in plan.rows] == ["listing-1", "listing-2"]


def test_every_bad_row_is_named_by_row_and_column() -> None:
    rows: list[dict[str | None, Any]] = [
        {"slug": "a", "title": "A", "overlayOpacity": "0.1"},
        {"slug": "b", "title": "", "overlayOpacity": "0.1"},  # missing required title
        {"slug": "c", "title": "C", "overlayOpacity": "lots"},  # wrong type
        {"slug": "a", "title": "D", "overlayOpacity": "0.1"},  # duplicate name
        {"slug": "e", "title": "E", "overlayOpacity": "2"},  # out of range
        {"slug": "", "title": "F", "overlayOpacity": "0.1"},  # no name
        {"slug": "g", "title": "G", "colour": "red"},  # unknown column
        {"slug": "h", "title": "H", None: ["extra"]},  # more cells than the header
    ]
    plan = plan_batch(TEMPLATE, rows, name_from="slug", batch_id="b1")
    assert [r.row for r in plan.rows] == [1]
    where = [(p.row, p.column) for p in plan.problems]
    assert where == [
        (2, "title"),
        (3, "overlayOpacity"),
        (4, "slug"),
        (5, "overlayOpacity"),
        (6, "slug"),
        (7, "colour"),
        (8, None),
    ]
    assert "Field required" in plan.problems[0].message
    assert "valid number" in plan.problems[1].message
    assert "duplicate name 'a' (row 1 has it)" in plan.problems[2].message
    assert plan.bad_rows == [2, 3, 4, 5, 6, 7, 8]
    assert str(plan.problems[0]) == "row 2, column title: Field required"
    assert str(RowProblem(8, None, "x")) == "row 8: x"


def test_json_rows_arrive_typed_and_are_only_checked() -> None:
    rows: list[dict[str | None, Any]] = [
        {"title": "A", "durationSeconds": 4},
        {"title": "B", "durationSeconds": "four"},
    ]
    plan = plan_batch(TEMPLATE, rows, batch_id="b1")
    assert plan.rows[0].body["spec"]["props"]["durationSeconds"] == 4
    assert [(p.row, p.column) for p in plan.problems] == [(2, "durationSeconds")]


def test_a_template_without_spec_template_is_refused() -> None:
    timeline = {**TEMPLATE, "spec": {"timeline": {"tracks": []}}}
    with pytest.raises(SpecError, match="spec.template"):
        plan_batch(timeline, [{"title": "a"}])
    with pytest.raises(SpecError, match="spec.template"):
        plan_batch({**TEMPLATE, "kind": "TTSJob"}, [{"title": "a"}])


def test_rows_are_read_from_csv_and_json(tmp_path: Path) -> None:
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text('\ufefftitle,tags\nA,x;y\n"B, b",\n', encoding="utf-8")
    assert read_rows(csv_path) == [{"title": "A", "tags": "x;y"}, {"title": "B, b", "tags": ""}]
    json_path = tmp_path / "rows.json"
    json_path.write_text(json.dumps([{"title": "A", "n": 2}]))
    assert read_rows(json_path) == [{"title": "A", "n": 2}]
    json_path.write_text(json.dumps({"title": "A"}))
    with pytest.raises(SpecError, match="list of objects"):
        read_rows(json_path)
    with pytest.raises(SpecError, match=".csv or .json"):
        read_rows(tmp_path / "rows.txt")


@pytest.mark.parametrize(
    ("value", "name"),
    [("Sea View #1", "sea-view-1"), ("--x--", "x"), ("ÄÖ", ""), (42, "42"), ("a" * 80, "a" * 63)],
)
def test_names_from_cells(value: Any, name: str) -> None:
    assert name_from_value(value) == name
