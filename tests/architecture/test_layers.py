"""The layer contracts (import-linter, in pyproject.toml) hold, and would catch a broken layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports over the package under ``tree/operator`` with the project's contracts."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return subprocess.run(
        [exe, str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree / "operator"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "operator" / "reelkube", tmp_path / "operator" / "reelkube")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(tree_copy: Path) -> None:
    proc = lint_imports(tree_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("pipeline/run.py", "reelkube.controller.kube"),  # the pod's code must not pull in the operator
        ("engine/plan.py", "reelkube.templates"),  # the engine sits below the templates
        ("api/kinds.py", "reelkube.engine.plan"),  # the API is the bottom layer
    ],
)
def test_a_layer_broken_on_purpose_is_reported(tree_copy: Path, module: str, imported: str) -> None:
    path = tree_copy / "operator" / "reelkube" / module
    path.write_text(path.read_text() + f"\nimport {imported}  # noqa: E402\n")
    proc = lint_imports(tree_copy)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and imported in proc.stdout
