"""What checkov scans: the rendered chart and the Job the operator builds for each example, as
YAML files; and a run of checkov over them, summarized.

Exceptions are skipped in the manifests themselves (``checkov.io/skipN`` annotations with a
reason), so a scan with zero failed checks is the whole story.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reelkube.api.kinds import kind_named
from reelkube.controller.job_manifests import build_job
from reelkube.controller.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_UID = "00000000-0000-4000-8000-000000000000"


def find_checkov() -> str | None:
    """``$REELKUBE_CHECKOV``, else checkov beside this interpreter, else on PATH."""
    if os.environ.get("REELKUBE_CHECKOV"):
        return os.environ["REELKUBE_CHECKOV"]
    beside = Path(sys.executable).parent / "checkov"
    if beside.exists():
        return str(beside)
    return shutil.which("checkov")


def example_jobs(settings: OperatorSettings | None = None) -> dict[str, dict[str, Any]]:
    """Example file stem -> the Job the operator builds for it (default settings)."""
    jobs: dict[str, dict[str, Any]] = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for body in yaml.safe_load_all(path.read_text()):
            if not body or body.get("kind") not in ("RenderJob", "TTSJob"):
                continue
            body["metadata"].update(namespace="media", uid=EXAMPLE_UID)
            resource = kind_named(body["kind"]).parse(body)
            jobs[path.stem] = build_job(resource, settings or OperatorSettings())
    return jobs


def write_manifests(folder: Path, rendered_chart: str) -> list[Path]:
    """The chart's documents and every example's Job, one YAML file each, under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    chart = folder / "chart.yaml"
    chart.write_text(rendered_chart)
    files.append(chart)
    for stem, job in example_jobs().items():
        path = folder / f"job-{stem}.yaml"
        path.write_text(yaml.safe_dump(job, sort_keys=False))
        files.append(path)
    return files


@dataclass(frozen=True)
class ScanResult:
    """checkov's summary and the failed checks, as (check id, resource, file)."""

    passed: int
    failed: int
    skipped: int
    failures: list[tuple[str, str, str]]


def run_checkov(checkov: str, files: list[Path]) -> ScanResult:
    """checkov's kubernetes checks over ``files`` (JSON output parsed; no network calls)."""
    args = [checkov, "--framework", "kubernetes", "-o", "json", "--quiet", "--compact", "--skip-download"]
    for path in files:
        args += ["-f", str(path)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, env=env)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({proc.returncode}): {proc.stderr[-2000:]}")
    reports = json.loads(proc.stdout)
    if isinstance(reports, dict):
        reports = [reports]
    passed = failed = skipped = 0
    failures = []
    for report in reports:
        summary = report.get("summary", {})
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        skipped += summary.get("skipped", 0)
        for check in report.get("results", {}).get("failed_checks", []):
            failures.append((check["check_id"], check["resource"], check["file_path"]))
    return ScanResult(passed=passed, failed=failed, skipped=skipped, failures=failures)
