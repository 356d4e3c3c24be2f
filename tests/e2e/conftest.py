"""End-to-end fixtures: the real cluster (tests/cluster) with the chart installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from reelkube_cluster import export_cluster_fixtures, skip_if_disabled

export_cluster_fixtures(globals())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_if_disabled(items, Path(__file__).resolve().parent)
