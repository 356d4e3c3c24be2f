"""The operator's tests: pure unit tests, plus handler tests (marked ``cluster``) that run the
kopf operator in-process against the real test cluster (fixtures from support.cluster)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1] / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

from reelkube_cluster import export_cluster_fixtures, skip_if_disabled  # noqa: E402

export_cluster_fixtures(globals())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_if_disabled(items, Path(__file__).resolve().parent)
