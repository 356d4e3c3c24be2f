"""`reelkube render` with a storage section uploads the outputs to a real S3-protocol server."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.slow


def test_render_uploads_when_the_spec_names_storage(s3_server: Any, tmp_path: Path) -> None:
    manifest = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "uploaded", "namespace": "demo"},
        "spec": {
            "timeline": {
                "width": 64, "height": 64, "fps": 10,
                "tracks": [{"clips": [{"type": "color", "color": "#aa3300", "duration": 1}]}],
            },
            "output": {"thumbnail": False},
            "storage": {"bucket": s3_server.bucket, "endpointUrl": s3_server.endpoint_url, "prefix": "cli"},
        },
    }  # fmt: skip
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    proc = subprocess.run(
        ["reelkube", "render", str(path), "-o", str(tmp_path / "out"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    video = report["uploaded"]["video"]
    assert video["uri"] == f"s3://{s3_server.bucket}/cli/demo/uploaded-local/video.mp4"
    local = (tmp_path / "out" / "video.mp4").read_bytes()
    downloaded = httpx.get(video["url"], timeout=30).content
    assert downloaded == local
    assert video["sha256"] == hashlib.sha256(local).hexdigest() and video["size"] == len(local)
