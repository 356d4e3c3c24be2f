"""`reelkube render`, `plan` and `validate`: exit codes 0/1/2 and messages naming fields."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.media import video_stream


def reelkube(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelkube.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def write_manifest(path: Path, spec: dict[str, Any], kind: str = "RenderJob", name: str = "demo") -> Path:
    doc = {"apiVersion": "reelkube.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def small_timeline(src: str = "image.jpg") -> dict[str, Any]:
    return {
        "width": 160, "height": 284, "fps": 30, "duration": 0.5,
        "tracks": [{"clips": [{"type": "image", "src": src}]},
                   {"clips": [{"type": "text", "text": "CLI: 'ok'", "fontSize": 16}]}],
    }  # fmt: skip


@pytest.mark.slow
def test_render_json_and_default_output_dir(media: dict[str, Path], tmp_path: Path) -> None:
    manifest = write_manifest(media["root"] / f"job-{tmp_path.name}.yaml", {"timeline": small_timeline()})
    done = reelkube("render", str(manifest), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    video = Path(result["outputs"]["video"]["path"])
    assert video == Path("out/demo/video.mp4") or video == tmp_path / "out/demo/video.mp4"
    assert result["frames"] == 15 and result["duration"] == 0.5 and result["size"] > 0
    assert int(video_stream(tmp_path / "out/demo/video.mp4")["nb_read_frames"]) == 15
    assert "rendering 100%" in done.stderr  # plain progress lines when not on a terminal


@pytest.mark.slow
def test_plan_prints_a_runnable_command(media: dict[str, Path], tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "job.yaml", {"timeline": small_timeline(str(media["image"]))})
    done = reelkube("plan", str(manifest), "-o", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert argv[0] == "ffmpeg" and "-filter_complex" in argv and str(tmp_path / "o/video.mp4") in argv
    # What render runs: the same ffmpeg writes the thumbnail from the composed frame.
    thumbnail = tmp_path / "o/.reelkube-plan/thumbnail.jpg"
    assert argv[-1] == str(thumbnail)
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert int(video_stream(tmp_path / "o/video.mp4")["nb_read_frames"]) == 15
    assert thumbnail.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_bad_manifest_exits_2_naming_every_field(tmp_path: Path) -> None:
    spec = {
        "output": {"crf": 99, "format": "webm"},
        "timeline": {"tracks": [{"clips": [{"type": "text", "text": "x", "fontSize": 0}]}], "fps": 0},
    }
    manifest = write_manifest(tmp_path / "bad.yaml", spec)
    validated = reelkube("validate", str(manifest))
    assert validated.returncode == 2
    for path in ("spec.output.crf", "spec.timeline.fps", "spec.timeline.tracks[0].clips[0].fontSize"):
        assert path in validated.stderr, validated.stderr
    assert "Input should be less than or equal to 63" in validated.stderr
    rendered = reelkube("render", str(manifest), "-o", str(tmp_path / "o"))
    assert rendered.returncode == 2 and "spec.output.crf" in rendered.stderr
    assert not (tmp_path / "o").exists()


def test_validate_checks_cel_rules_and_template_props(tmp_path: Path) -> None:
    both = write_manifest(tmp_path / "both.yaml", {"output": {"format": "webm"}, "timeline": small_timeline(),
                                                   "template": "slideshow"})  # fmt: skip
    done = reelkube("validate", str(both))
    assert done.returncode == 2
    assert (
        "give exactly one of template or timeline" in done.stderr
        and "webm output needs codec vp9" in done.stderr
    )
    props = write_manifest(
        tmp_path / "props.yaml", {"template": "captioned-reel", "props": {"overlayOpacity": 7}}
    )
    done = reelkube("validate", str(props))
    assert done.returncode == 2 and "spec.props.overlayOpacity" in done.stderr
    good = write_manifest(tmp_path / "good.yaml", {"timeline": small_timeline()})
    done = reelkube("validate", str(good))
    assert done.returncode == 0 and "valid RenderJob" in done.stdout


@pytest.mark.slow
def test_render_failure_exits_1_with_the_cause(media: dict[str, Path], tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "junk.yaml", {"timeline": small_timeline(str(media["junk"]))})
    done = reelkube("render", str(manifest), "-o", str(tmp_path / "o"))
    assert done.returncode == 1
    assert "InputUnreadable" in done.stderr and "junk.mp4" in done.stderr and "Traceback" not in done.stderr


def test_ttsjob_is_sent_to_the_tts_command(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "tts.yaml", {"text": "Hello there."}, kind="TTSJob")
    done = reelkube("render", str(manifest))
    assert done.returncode == 2 and "reelkube tts" in done.stderr
