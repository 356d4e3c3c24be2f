"""What the models and the generated CRD refuse before anything runs: schemes no policy accepts,
and (in the cluster's schema) local files of the render pod."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reelkube.api.common import CLUSTER_INPUT_LOCATION_PATTERN
from reelkube.api.timeline import AudioClip, ImageClip, SubtitlesClip, VideoClip
from reelkube.api.ttsjob import TTSJobSpec
from support import yamls

CRDS = Path(__file__).resolve().parents[2] / "crds"

UNKNOWN_SCHEMES = [
    "ftp://example.com/a.mp4",
    "gopher://127.0.0.1:70/x",
    "dict://127.0.0.1:11211/",
    "data:video/mp4;base64,AAAA",
    "javascript:alert(1)",
    "jar:http://x!/a",
    "C:\\clip.mp4",
]
EVERYWHERE = [
    "clip.mp4",
    "assets/a b.jpg",
    "dir/a:b.mp4",
    "https://cdn.example/a.mp4",
    "HTTP://x/a",
    "s3://b/k.mp4",
]
LOCAL_ONLY = ["/etc/passwd", "file:///etc/passwd", "~/clip.mp4", "FILE:///x"]


@pytest.mark.parametrize("src", UNKNOWN_SCHEMES)
def test_models_refuse_unknown_schemes(src: str) -> None:
    for model, extra in ((VideoClip, {}), (ImageClip, {}), (AudioClip, {}), (SubtitlesClip, {})):
        with pytest.raises(ValidationError, match="is not an input scheme"):
            model.model_validate({"src": src, "duration": 1, **extra})
    with pytest.raises(ValidationError, match="is not an input scheme"):
        TTSJobSpec.model_validate({"script": src})


@pytest.mark.parametrize("src", EVERYWHERE + LOCAL_ONLY)
def test_models_accept_paths_and_known_schemes(src: str) -> None:
    # `reelkube render` on a laptop may use local files; the cluster refuses them at fetch time.
    assert VideoClip.model_validate({"src": src, "duration": 1}).src == src


def _patterns(schema: Any, path: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("src", "script") and isinstance(value, dict) and value.get("type") == "string":
                found[f"{path}.{key}"] = value.get("pattern", "")
            found.update(_patterns(value, f"{path}.{key}"))
    elif isinstance(schema, list):
        for item in schema:
            found.update(_patterns(item, path))
    return found


def test_the_crds_refuse_unknown_schemes_and_pod_files() -> None:
    fields = {}
    for name in ("renderjobs.reelkube.io.yaml", "ttsjobs.reelkube.io.yaml"):
        fields.update(_patterns(yamls.load((CRDS / name).read_text())))
    assert any(key.endswith(".script") for key in fields) and any(key.endswith(".src") for key in fields)
    assert set(fields.values()) == {CLUSTER_INPUT_LOCATION_PATTERN}, fields
    pattern = re.compile(CLUSTER_INPUT_LOCATION_PATTERN)
    assert all(pattern.match(src) for src in EVERYWHERE)
    assert not any(pattern.match(src) for src in UNKNOWN_SCHEMES + LOCAL_ONLY)
