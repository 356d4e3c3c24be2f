"""A segment pod told to stop (SIGTERM: its pod deleted, its node drained) stops its ffmpeg at
once and exits with the code the chunk Job retries, instead of finishing its window.

`reelkube job` runs as a process with the operator's environment for window 1 of 2, real
ffmpeg and the real S3 test server, and gets SIGTERM while its window renders, as the kubelet
sends it to the container's PID 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.pod_contract import (
    CHUNK_COUNT_ENV,
    CHUNK_INDEX_ENV,
    CHUNK_ROLE_ENV,
    EXIT_CANCELED,
    TERMINATION_LOG_ENV,
)
from support.s3 import S3Server

pytestmark = pytest.mark.slow

STOP_WITHIN_SECONDS = 10.0
"""Well inside the pod's grace period (30 s), after which the kubelet kills with 137."""


def long_window_job(server: S3Server, prefix: str) -> dict[str, Any]:
    """Two windows of 10 minutes each: far longer than the test waits, so the SIGTERM always
    lands while window 1 renders."""
    seconds = 1200
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "stopped", "namespace": "media", "uid": "5709e000-0000-0000-0000-000000000000"},
        "spec": {
            "timeline": {
                "width": 320,
                "height": 180,
                "fps": 25,
                "duration": seconds,
                "tracks": [
                    {"clips": [{"type": "color", "color": "#336699", "start": 0, "duration": seconds}]}
                ],
            },
            "output": {"preset": "ultrafast", "chunks": 2, "chunkCache": False, "thumbnail": False},
            "storage": {"bucket": server.bucket, "prefix": prefix, "endpointUrl": server.endpoint_url},
        },
    }


def ffmpeg_of(tmp_path: Path) -> list[str]:
    """The ffmpeg processes writing under ``tmp_path`` (the segment's scratch dir is there)."""
    found = subprocess.run(["pgrep", "-f", f"ffmpeg.*{tmp_path}"], capture_output=True, text=True)
    return found.stdout.split()


def test_sigterm_mid_window_stops_ffmpeg_and_exits_for_a_retry(tmp_path: Path, s3_server: S3Server) -> None:
    resource = tmp_path / "resource.json"
    resource.write_text(json.dumps(long_window_job(s3_server, "stopped")))
    log = tmp_path / "termination-log"
    env = {
        **os.environ,
        CHUNK_ROLE_ENV: "segment",
        CHUNK_COUNT_ENV: "2",
        CHUNK_INDEX_ENV: "1",
        TERMINATION_LOG_ENV: str(log),
    }
    argv = [sys.executable, "-m", "reelkube.cli", "job", "--resource", str(resource)]
    argv += ["--work-dir", str(tmp_path / "work"), "--no-status"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        seen.append(line)
        # The window's own progress entry with frames done: ffmpeg is encoding the window.
        if "'framesDone': " in line and "'framesDone': 0}" not in line:
            break
        if time.monotonic() > deadline:
            break
    assert ffmpeg_of(tmp_path), "no ffmpeg rendering the window:\n" + "".join(seen[-20:])

    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        rest = proc.communicate(timeout=STOP_WITHIN_SECONDS)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the segment pod did not stop within {STOP_WITHIN_SECONDS:g} s of SIGTERM")
    stopped_after = time.monotonic() - sent
    print(f"segment pod exited {proc.returncode} {stopped_after:.2f} s after SIGTERM")

    assert proc.returncode == EXIT_CANCELED, rest[-3000:]
    assert json.loads(log.read_text())["reason"] == "Canceled"
    assert "event=chunk_rendered" not in rest, "the window was finished instead of stopped"
    assert not ffmpeg_of(tmp_path), "ffmpeg must not outlive the segment pod"
    # Nothing half-rendered is left for the merge: the retried pod renders the window afresh.
    assert s3_server.list_keys("stopped/") == []
    assert not list((tmp_path / "work" / "out").glob("**/segment-*.mp4"))
