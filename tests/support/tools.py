"""External programs a test needs, and what happens when one is missing.

On a developer's machine a missing program skips the tests that need it, with the reason. In CI
(``tests/run-all.sh`` sets ``REELKUBE_REQUIRE_TOOLS=1`` after it has built and installed every
tool) a missing program is a failure: a green run must never hide a test that did not run.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "REELKUBE_REQUIRE_TOOLS"


def require_tool(path: str | None, reason: str) -> str:
    """``path`` when the tool was found; else skip the test, or fail it where tools are required."""
    if path:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: a missing tool is a failure here)", pytrace=False)
    pytest.skip(reason)
