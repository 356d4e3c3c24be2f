"""`reelkube render` / `reelkube tts --input-policy`: local by default (any path), the render
pod's policy on request (no local files outside the asset folder, no loopback). No media: each
case ends at the fetch, before ffmpeg or Piper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.file_server import serve_files


def reelkube(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelkube.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def manifest(path: Path, spec: dict[str, Any], kind: str = "RenderJob") -> Path:
    doc = {"apiVersion": "reelkube.io/v1alpha1", "kind": kind, "metadata": {"name": "demo"}, "spec": spec}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def image_timeline(src: str) -> dict[str, Any]:
    return {
        "timeline": {
            "width": 160, "height": 96, "fps": 10, "duration": 0.5,
            "tracks": [{"clips": [{"type": "image", "src": src}]}],
        },
    }  # fmt: skip


@pytest.mark.parametrize("command", ["render", "tts"])
def test_help_documents_the_input_policy_flag(command: str) -> None:
    done = reelkube(command, "--help")
    assert done.returncode == 0
    assert "--input-policy {local,cluster}" in done.stdout and "asset folder" in done.stdout


def test_the_local_policy_is_the_default_and_reads_local_files(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "image.jpg"
    job = manifest(tmp_path / "job.yaml", image_timeline(f"file://{missing}"))
    done = reelkube("render", str(job), "-o", str(tmp_path / "o"))
    assert done.returncode == 1 and "InputNotFound" in done.stderr, done.stderr


def test_the_cluster_policy_refuses_a_local_file(tmp_path: Path) -> None:
    job = manifest(tmp_path / "job.yaml", image_timeline("file:///etc/passwd"))
    done = reelkube("render", str(job), "-o", str(tmp_path / "o"), "--input-policy", "cluster")
    assert done.returncode == 1 and "error (InputForbidden): image input: file:///etc/passwd" in done.stderr
    assert "root:" not in done.stderr + done.stdout


def test_the_cluster_policy_refuses_loopback_unless_the_environment_allows_it(tmp_path: Path) -> None:
    # A real server on loopback that has no such file: allowed, the fetch reaches it and gets a
    # 404 at once (a closed port would be retried with back-off as a transient failure).
    with serve_files(tmp_path) as server:
        job = manifest(tmp_path / "job.yaml", image_timeline(f"{server.url}/image.jpg"))
        refused = reelkube("render", str(job), "-o", str(tmp_path / "o"), "--input-policy", "cluster")
        assert refused.returncode == 1 and "InputForbidden" in refused.stderr and "loopback" in refused.stderr
        allowed = reelkube(
            "render", str(job), "-o", str(tmp_path / "o"), "--input-policy", "cluster",
            env={"REELKUBE_INPUTS_ALLOWED_CIDRS": "127.0.0.0/8"},
        )  # fmt: skip
    assert allowed.returncode == 1 and "InputForbidden" not in allowed.stderr
    assert "InputNotFound" in allowed.stderr, allowed.stderr


def test_tts_under_the_cluster_policy_refuses_a_script_outside_the_asset_folder(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (tmp_path / "outside.txt").write_text("a secret script")
    job = manifest(tmp_path / "tts.yaml", {"script": "../outside.txt"}, kind="TTSJob")
    done = reelkube(
        "tts", str(job), "-o", str(tmp_path / "o"), "--input-policy", "cluster",
        env={"REELKUBE_ASSET_DIR": str(assets)},
    )  # fmt: skip
    assert done.returncode == 1 and "spec.script: ../outside.txt leaves the asset folder" in done.stderr
