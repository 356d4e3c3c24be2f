"""`reelkube job` end to end on this machine: real engine, real ffmpeg/Piper, real S3 server.

The status writer is a recorder instead of the API server (the cluster tests cover that
path); everything else is what runs in a render pod.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelkube.engine.probe import probe_media
from reelkube.pipeline.pod import run_in_pod

pytestmark = pytest.mark.slow


def timeline_job(
    name: str, *, seconds: float = 1.0, clips: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {
            "name": name,
            "namespace": "media",
            "uid": "1234abcd-0000-0000-0000-000000000000",
            "generation": 1,
        },
        "spec": {
            "timeline": {
                "width": 160,
                "height": 96,
                "fps": 10,
                "duration": seconds,
                "tracks": [
                    {
                        "clips": clips
                        or [{"type": "color", "color": "#336699", "start": 0, "duration": seconds}]
                    }
                ],
            },
            "output": {"format": "mp4", "codec": "h264", "preset": "ultrafast"},
            **spec,
        },
    }


class Recorder:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def __call__(self, patch: dict[str, Any]) -> None:
        self.patches.append(patch)


def write(tmp_path: Path, body: dict[str, Any]) -> Path:
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(body))
    return path


def test_render_uploads_outputs_and_reports_them(tmp_path: Path, s3_server: Any) -> None:
    storage = {"bucket": s3_server.bucket, "prefix": "runner", "endpointUrl": s3_server.endpoint_url}
    recorder = Recorder()
    code = run_in_pod(
        write(tmp_path, timeline_job("tiny", seconds=2, storage=storage)),
        work_dir=tmp_path / "work",
        writer=recorder,
        min_interval=0.1,
    )
    assert code == 0
    final = recorder.patches[-1]
    assert final["progress"] == 100 and final["step"] == "done"
    assert any("encoder" in p for p in recorder.patches)
    video = final["outputs"]["video"]
    assert video["uri"] == f"s3://{s3_server.bucket}/runner/media/tiny-1234abcd/{Path(video['uri']).name}"
    assert (video["width"], video["height"]) == (160, 96) and video["contentType"] == "video/mp4"
    response = httpx.get(video["url"], timeout=30)
    assert response.status_code == 200
    data = response.content
    assert len(data) == video["size"] and hashlib.sha256(data).hexdigest() == video["sha256"]
    downloaded = tmp_path / "down.mp4"
    downloaded.write_bytes(data)
    info = probe_media(downloaded)
    assert abs((info.duration or 0) - 2.0) < 0.2 and (info.width, info.height) == (160, 96)
    progresses = [p["progress"] for p in recorder.patches if "progress" in p]
    assert progresses == sorted(progresses)


def test_tts_job_uploads_audio_and_subtitles(tmp_path: Path, s3_server: Any) -> None:
    body = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "TTSJob",
        "metadata": {"name": "hello", "namespace": "media", "uid": "feedbeef-0000-0000-0000-000000000000"},
        "spec": {
            "text": "Hello from the render pod.",
            "audioFormats": ["wav"],
            "subtitleFormats": ["srt"],
            "storage": {
                "bucket": s3_server.bucket,
                "prefix": "runner",
                "endpointUrl": s3_server.endpoint_url,
            },
        },
    }
    recorder = Recorder()
    assert (
        run_in_pod(write(tmp_path, body), work_dir=tmp_path / "work", writer=recorder, min_interval=0.1) == 0
    )
    outputs = recorder.patches[-1]["outputs"]
    assert {"audio", "subtitles", "timings"} <= set(outputs)
    assert outputs["audio"]["contentType"].startswith("audio/") and outputs["audio"]["duration"] > 0.5
    srt = httpx.get(outputs["subtitles"]["url"], timeout=30).text
    assert "Hello from the render pod" in srt


def test_missing_input_fails_with_input_not_found(
    tmp_path: Path, webhook_receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook_receiver.default_status = 404
    clips = [{"type": "image", "src": f"{webhook_receiver.url}/missing.jpg", "start": 0, "duration": 1}]
    log = tmp_path / "termination-log"
    monkeypatch.setenv("REELKUBE_TERMINATION_LOG", str(log))
    # The receiver is on loopback, which the pod's policy refuses unless the chart allows it.
    monkeypatch.setenv("REELKUBE_INPUTS_ALLOWED_CIDRS", "127.0.0.0/8")
    code = run_in_pod(
        write(tmp_path, timeline_job("missing", clips=clips)), work_dir=tmp_path / "work", writer=Recorder()
    )
    assert code == 2
    cause = json.loads(log.read_text())
    assert cause["reason"] == "InputNotFound" and "missing.jpg" in cause["message"]


def test_sigterm_cancels_the_render_and_says_so(tmp_path: Path) -> None:
    body = timeline_job("long", seconds=600)
    body["spec"]["timeline"].update(width=640, height=360, fps=30)
    log = tmp_path / "termination-log"
    env = {**os.environ, "REELKUBE_TERMINATION_LOG": str(log)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reelkube.cli",
            "job",
            "--resource",
            str(write(tmp_path, body)),
            "--work-dir",
            str(tmp_path / "work"),
            "--no-status",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "step=rendering" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    try:
        rest = proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the runner did not stop within 30 s of SIGTERM")
    assert proc.returncode == 143, rest[-2000:]
    assert json.loads(log.read_text())["reason"] == "Canceled"
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert not leftovers, "ffmpeg must not outlive the runner"


@pytest.mark.parametrize(("millicores", "threads"), [("1000", "threads=1 "), (None, "threads=3 ")])
def test_the_encoder_threads_follow_the_pods_cpu_limit(
    tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch, millicores: str | None, threads: str
) -> None:
    """x264 writes its settings into the video (an SEI message): with a one-CPU limit on this
    two-core machine it encodes with one thread, without a limit with its own choice for two
    cores (3 frame threads)."""
    if (os.cpu_count() or 1) != 2:
        pytest.skip("the thread counts asserted are those of a two-core machine")
    if millicores is None:
        monkeypatch.delenv("REELKUBE_CPU_LIMIT_MILLICORES", raising=False)
    else:
        monkeypatch.setenv("REELKUBE_CPU_LIMIT_MILLICORES", millicores)
    storage = {"bucket": s3_server.bucket, "prefix": "threads", "endpointUrl": s3_server.endpoint_url}
    recorder = Recorder()
    body = timeline_job("threads", seconds=1, storage=storage)
    body["spec"]["output"]["thumbnail"] = False
    code = run_in_pod(write(tmp_path, body), work_dir=tmp_path / "work", writer=recorder, min_interval=0.1)
    assert code == 0
    video = httpx.get(recorder.patches[-1]["outputs"]["video"]["url"], timeout=30).content
    settings = video[video.index(b"x264 - core") :].split(b"\0")[0].decode()
    assert threads in settings, settings
