"""The cached CEL parser is the parser celpy builds: same trees for every rule the CRDs carry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celpy.celparser import CELParser

from reelkube.api.cel_parser import install_cached_parser
from reelkube.api.crd import build_crd
from reelkube.api.kinds import KINDS


def rules(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for rule in node.get("x-kubernetes-validations", []):
            yield rule["rule"]
        for value in node.values():
            yield from rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from rules(value)


@pytest.fixture
def fresh_parser() -> Iterator[None]:
    kept = CELParser.CEL_PARSER
    CELParser.CEL_PARSER = None
    yield
    CELParser.CEL_PARSER = kept


def test_every_crd_rule_parses_to_the_same_tree(
    fresh_parser: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = sorted({rule for kind in KINDS for rule in rules(build_crd(kind))})
    assert len(every) > 20
    celpy_own = [CELParser().parse(rule) for rule in every]
    CELParser.CEL_PARSER = None
    monkeypatch.setenv("REELKUBE_CACHE", str(tmp_path))
    assert install_cached_parser()  # builds and saves the tables
    assert (tmp_path / "cel-parser.lark").stat().st_size > 10_000
    CELParser.CEL_PARSER = None
    assert install_cached_parser()  # loads them
    assert [CELParser().parse(rule) for rule in every] == celpy_own


def test_a_folder_that_cannot_be_written_leaves_celpy_its_own_parser(
    fresh_parser: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("REELKUBE_CACHE", str(blocked / "sub"))
    assert not install_cached_parser()
    assert CELParser.CEL_PARSER is None
