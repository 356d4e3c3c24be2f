"""The render pod's answers to the operator: exit codes, the termination message, the mounted
resource read back (no cluster, no media)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelkube.api.kinds import RENDER_JOB
from reelkube.errors import Canceled, InputNotFound, InputTimeout, RenderFailed, SpecError
from reelkube.pipeline.pod import (
    exit_code_for,
    load_resource,
    run_in_pod,
    termination_message,
    write_termination_message,
)
from support.resources import RENDER_BODY


def test_termination_message_is_json_and_fits_the_kubelets_limit(tmp_path: Path) -> None:
    error = RenderFailed("ffmpeg said: " + "x" * 10_000)
    text = termination_message(error)
    assert len(text.encode()) <= 4096
    parsed = json.loads(text)
    assert parsed["reason"] == "RenderFailed" and parsed["message"].endswith("xxx")
    target = tmp_path / "termination-log"
    write_termination_message(InputNotFound("https://x/y.jpg returned 404"), target)
    assert json.loads(target.read_text()) == {
        "reason": "InputNotFound",
        "message": "https://x/y.jpg returned 404",
    }


def test_exit_codes_separate_retryable_failures() -> None:
    assert exit_code_for(SpecError("bad")) == 2
    assert exit_code_for(InputNotFound("404")) == 2
    assert exit_code_for(InputTimeout("slow")) == 1
    assert exit_code_for(RenderFailed("ffmpeg")) == 1
    assert exit_code_for(Canceled("SIGTERM")) == 143


def test_load_resource_reads_the_mounted_json(tmp_path: Path) -> None:
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(RENDER_BODY))
    adapter, resource = load_resource(path)
    assert adapter is RENDER_JOB and resource.metadata.name == "summer-reel"
    path.write_text(json.dumps({**RENDER_BODY, "spec": {"template": "captioned-reel", "bogus": 1}}))
    with pytest.raises(SpecError, match="invalid RenderJob"):
        load_resource(path)
    path.write_text(json.dumps({"kind": "Pod"}))
    with pytest.raises(SpecError, match="unknown kind"):
        load_resource(path)


def test_run_in_pod_reports_a_bad_spec_through_the_termination_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "termination-log"
    monkeypatch.setenv("REELKUBE_TERMINATION_LOG", str(log))
    path = tmp_path / "resource.json"
    path.write_text(json.dumps({**RENDER_BODY, "spec": {"props": {"a": 1}}}))
    assert run_in_pod(path, work_dir=tmp_path / "work", use_cluster=False) == 2
    assert json.loads(log.read_text())["reason"] == "InvalidSpec"
