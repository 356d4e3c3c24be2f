"""Batch renders: one resource per data row, the template manifest's props filled from columns.

Pure: rows in, resource bodies and row problems out. A column names a prop of the manifest's
template (``spec.template``); its text is typed by that prop's declared type (numbers, booleans,
lists written ``a;b;c`` or as JSON, objects as JSON), and each filled manifest is then checked
exactly as ``reelkube validate`` checks one. Every problem is reported by row and column before
anything is created. JSON rows arrive typed already and are only checked.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import secrets
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from reelkube.api.kinds import RENDER_JOB
from reelkube.client.resources import BATCH_LABEL, Body
from reelkube.errors import SpecError

LIST_SEPARATOR = ";"
"""Separates the items of a list prop written in one CSV cell (commas would clash with CSV)."""
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
"""Names stay label-sized, so that labels carrying them are never cut."""
TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "off", "0"})

Row = dict[str | None, Any]
"""One data row by column; the None key holds cells past the header (csv.DictReader's way)."""


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one row; ``row`` counts data rows from 1 (the header is not one)."""

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class BatchRow:
    """A good row and the resource it becomes."""

    row: int
    name: str
    body: Body


@dataclass
class BatchPlan:
    """Every row of a batch: the resources to create and the rows refused, with why."""

    batch_id: str
    rows: list[BatchRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})


def new_batch_id(now: datetime | None = None) -> str:
    """A label-safe, sortable id: ``20261130-065012-a1b2``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def read_rows(path: Path) -> list[Row]:
    """The rows of a ``.csv`` (header first, cells as text) or ``.json`` (a list of objects)."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise SpecError(f"{path}: rows must be a .csv or .json file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise SpecError(f"{path}: expected a JSON list of objects, one per row")
        return [dict(item) for item in data]
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise SpecError(f"{path}: no header row")
    return [dict(row) for row in reader]


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def type_text(text: str, annotation: Any) -> Any:
    """A cell's text as the JSON value the annotation wants. Text that does not fit is left as
    it is, so that validation names the expected type against its column."""
    target = _unwrap(annotation)
    origin = typing.get_origin(target)
    stripped = text.strip()
    if origin in (list, tuple, set, frozenset) or target in (list, tuple):
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return text
        item = (typing.get_args(target) or (Any,))[0]
        return [type_text(part.strip(), item) for part in stripped.split(LIST_SEPARATOR) if part.strip()]
    if target is bool:
        lowered = stripped.lower()
        return True if lowered in TRUE_WORDS else False if lowered in FALSE_WORDS else text
    if target is int:
        try:
            return int(stripped)
        except ValueError:
            return text
    if target is float:
        try:
            return float(stripped)
        except ValueError:
            return text
    if origin is dict or target is dict or (isinstance(target, type) and issubclass(target, BaseModel)):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return text


def name_from_value(value: Any) -> str:
    """A resource name from a cell: lower case, anything else than letters and digits -> ``-``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")
    return slug[:MAX_NAME].rstrip("-")


def _column_of(path: str) -> str | None:
    """``spec.props.images[0].src`` -> ``images``; other paths concern no column."""
    if not path.startswith("spec.props."):
        return None
    return re.split(r"[.\[]", path[len("spec.props.") :], maxsplit=1)[0]


def _row_props(
    index: int,
    row: Row,
    props: dict[str, Any],
    fields: Mapping[str, FieldInfo],
    name_from: str | None,
    problems: list[RowProblem],
) -> dict[str, Any]:
    """The template's props with the row's cells typed over them; unknown columns are problems
    (empty cells keep the template's value)."""
    for column, value in row.items():
        if column is None:
            problems.append(RowProblem(index, None, "more cells than the header has columns"))
        elif column not in fields:
            if column != name_from:
                known = ", ".join(fields)
                problems.append(RowProblem(index, column, f"the template has no prop {column!r} ({known})"))
        elif isinstance(value, str):
            if value != "":
                props[column] = type_text(value, fields[column].annotation)
        elif value is not None:
            props[column] = value
    return props


def plan_batch(
    template: Mapping[str, Any],
    rows: Iterable[Row],
    *,
    name_from: str | None = None,
    batch_id: str | None = None,
) -> BatchPlan:
    """The resources for ``rows`` from the ``template`` manifest (a RenderJob naming a template),
    and every row's problems (missing or mistyped props, unknown columns, bad or duplicate names).

    Names come from the ``name_from`` column, else ``<manifest name>-<row>``; every resource
    carries the label ``reelkube.io/batch: <batch id>``.
    """
    from reelkube.manifest import manifest_errors
    from reelkube.templates import TEMPLATES

    spec = template.get("spec")
    if template.get("kind") != RENDER_JOB.kind or not isinstance(spec, dict) or not spec.get("template"):
        raise SpecError("a batch template is a RenderJob manifest with spec.template (rows fill its props)")
    chosen = TEMPLATES.get(str(spec["template"]))
    if chosen is None:
        raise SpecError(f"template {spec['template']!r} is not available in this build")
    fields: dict[str, FieldInfo] = chosen.props_model.model_fields
    base_name = str((template.get("metadata") or {}).get("name") or chosen.name)
    plan = BatchPlan(batch_id or new_batch_id())
    first_row_of: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        problems: list[RowProblem] = []
        props = _row_props(index, row, dict(spec.get("props") or {}), fields, name_from, problems)
        if name_from:
            raw = row.get(name_from)
            name = name_from_value(raw) if raw not in (None, "") else ""
            if not name:
                problems.append(RowProblem(index, name_from, "empty: each row needs a name"))
        else:
            name = f"{base_name[: MAX_NAME - 6].rstrip('-')}-{index}"
        if name and not NAME_PATTERN.match(name):
            problems.append(RowProblem(index, name_from, f"{name!r} is not a valid resource name"))
        elif name in first_row_of:
            problems.append(
                RowProblem(index, name_from, f"duplicate name {name!r} (row {first_row_of[name]} has it)")
            )
        elif name:
            first_row_of[name] = index
        body = copy.deepcopy(dict(template))
        metadata = body.setdefault("metadata", {})
        metadata["name"] = name or base_name
        metadata["labels"] = {**(metadata.get("labels") or {}), BATCH_LABEL: plan.batch_id}
        body["spec"]["props"] = props
        for error in manifest_errors(body):
            column = _column_of(error.path)
            message = error.message if column else str(error)
            if column and error.path != f"spec.props.{column}":
                message = f"{error.path.removeprefix('spec.props.')}: {error.message}"
            problems.append(RowProblem(index, column, message))
        if problems:
            plan.problems += problems
        else:
            plan.rows.append(BatchRow(index, name, body))
    return plan
