"""An outside scanner over what we ship: checkov's Kubernetes checks on the rendered chart and on
the Job the operator builds for each example. Zero failed checks; every exception is skipped in
the manifest with its reason (the Deployment's and the Job's ``checkov.io/skipN`` annotations).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.chart.test_chart import CHART, helm, helm_binary, needs_helm
from tests.support.checkov_scan import find_checkov, run_checkov, write_manifests
from tests.support.tools import require_tool

__all__ = ["helm_binary"]  # the fixture needs_helm names


@pytest.mark.slow  # checkov takes a few seconds to load its checks
@needs_helm
def test_checkov_finds_no_failed_check_in_the_chart_or_the_jobs(tmp_path: Path) -> None:
    checkov = require_tool(find_checkov(), "no checkov (pip install -e '.[dev]')")
    rendered = helm(
        "template", "reelkube", str(CHART), "--namespace", "reelkube-system", "--kube-version", "1.35.0"
    ).stdout
    files = write_manifests(tmp_path, rendered)
    assert len(files) >= 12  # the chart and one Job per example
    result = run_checkov(checkov, files)
    assert result.failures == []
    assert result.failed == 0
    assert result.passed > 500
    # The skips are the annotated exceptions only: 3 on the operator's Deployment, 2 on the
    # embedded storage's (templates/storage.yaml), 4 on each Job.
    assert result.skipped == 3 + 2 + 4 * (len(files) - 1)
