"""The render pod's answers to the operator: exit codes, the termination message, the mounted
resource read back (no cluster, no media)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

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


class SilentServer:
    """A real TCP server on loopback that accepts connections and never answers: an input
    download that hangs until the pod is stopped."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self._accepted.append(self._socket.accept()[0])

    def close(self) -> None:
        # The download fails at once, so its thread does not outlive the test.
        for connection in self._accepted:
            connection.close()
        self._socket.close()


def test_a_stopped_pod_exits_without_waiting_on_the_status_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API server is away (every status write fails): the final flush of a finished render
    # retries for up to a minute, which a stopped pod does not have (its grace period is 10 s
    # in the tests, then SIGKILL and exit 137). A stop writes its cause and leaves.
    server = SilentServer()
    log = tmp_path / "termination-log"
    monkeypatch.setenv("REELKUBE_TERMINATION_LOG", str(log))
    monkeypatch.setenv("REELKUBE_INPUTS_ALLOWED_CIDRS", "127.0.0.0/8")
    body = {
        **RENDER_BODY,
        "spec": {
            "timeline": {
                "width": 160,
                "height": 96,
                "duration": 2,
                "tracks": [
                    {
                        "clips": [
                            {"type": "image", "src": f"http://127.0.0.1:{server.port}/a.jpg", "duration": 2}
                        ]
                    }
                ],
            }
        },
    }
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(body))
    writes: list[float] = []

    def api_server_away(_patch: dict[str, Any]) -> None:
        writes.append(time.monotonic())
        raise ConnectionError("the API server is not answering")

    stop = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    stop.start()
    try:
        code = run_in_pod(path, work_dir=tmp_path / "work", writer=api_server_away, min_interval=0.05)
        left = time.monotonic()
    finally:
        stop.cancel()
        server.close()
    assert code == 143
    assert json.loads(log.read_text())["reason"] == "Canceled"
    assert writes, "the render never reported progress before the stop"
    assert left - writes[0] < 5, "the stop waited on the failing status writes"
