"""YAML reading for tests with libyaml's C parser when PyYAML has it: the chart tests parse
about 900 rendered documents, which took 17 s of the unit run with the pure-Python parser."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """One document, read as ``yaml.safe_load`` reads it."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader


def load_all(text: str) -> list[Any]:
    """Every non-empty document, read as ``yaml.safe_load_all`` reads them."""
    return [doc for doc in yaml.load_all(text, Loader=SafeLoader) if doc is not None]  # noqa: S506
