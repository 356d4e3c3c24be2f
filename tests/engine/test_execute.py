"""Running ffmpeg: failures carry stderr, missing encoders are named, SIGTERM cancels cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from reelkube.engine.execute import run_ffmpeg
from reelkube.errors import RenderFailed, RenderOutOfMemory, UnsupportedCodec
from support.timelines import plan_for, timeline

pytestmark = pytest.mark.slow


def test_failure_raises_render_failed_with_stderr_tail(media: dict[str, Path], tmp_path: Path) -> None:
    plan = plan_for(timeline([{"type": "color"}], duration=0.5), media["root"], tmp_path)
    i = plan.argv.index("-filter_complex")
    plan.argv[i + 1] = plan.argv[i + 1].replace("format=yuv420p[vout]", "nosuchfilter=1[vout]")
    with pytest.raises(RenderFailed) as caught:
        run_ffmpeg(plan)
    assert "nosuchfilter" in caught.value.message and "Traceback" not in caught.value.message
    assert not plan.output.exists()


@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="a GPU is present: NVENC would work")
def test_missing_gpu_encoder_is_unsupported_codec(media: dict[str, Path], tmp_path: Path) -> None:
    plan = plan_for(
        timeline([{"type": "color"}], duration=0.5), media["root"], tmp_path, output={"gpu": True}
    )
    assert plan.encoder == "h264_nvenc"
    with pytest.raises(UnsupportedCodec, match="h264_nvenc"):
        run_ffmpeg(plan)
    assert not plan.output.exists()


def test_ffmpeg_killed_by_sigkill_is_out_of_memory_and_not_retried(
    media: dict[str, Path], tmp_path: Path
) -> None:
    # The OOM killer may take ffmpeg alone (cgroup v1, or singleProcessOOMKill): a stand-in that
    # SIGKILLs itself is what the runner sees then.
    plan = plan_for(timeline([{"type": "color"}], duration=0.5), media["root"], tmp_path)
    killed = tmp_path / "ffmpeg-killed"
    killed.write_text("#!/bin/sh\nkill -KILL $$\n")
    killed.chmod(0o755)
    plan.argv[0] = str(killed)
    with pytest.raises(RenderOutOfMemory, match="killed by SIGKILL.*spec.resources.memory") as caught:
        run_ffmpeg(plan)
    assert caught.value.reason == "OutOfMemory" and caught.value.retryable is False
    assert not plan.output.exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_ffmpeg_and_removes_partial_output(media: dict[str, Path], tmp_path: Path) -> None:
    # Long enough to be mid-render when the signal comes (slow preset, 30 s of frames).
    manifest = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "long"},
        "spec": {
            "output": {"preset": "veryslow", "thumbnail": False},
            "timeline": {"width": 640, "height": 360, "duration": 30,
                         "tracks": [{"clips": [{"type": "video", "src": str(media["clip"]), "loop": True}]}]},
        },
    }  # fmt: skip
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(manifest))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelkube.cli", "render", str(path), "-o", str(out), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("rendering"):
                break
        ffmpeg = [pid for pid in _children(proc.pid) if "ffmpeg" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(ffmpeg) == 1
        assert (out / "video.mp4").exists()  # partial output being written
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130
    deadline = time.monotonic() + 5
    while _alive(ffmpeg[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(ffmpeg[0])
    assert not (out / "video.mp4").exists()
    assert not list(out.glob(".reelkube-work-*"))
