"""The examples render unchanged in a pod: the renderer image bakes examples/assets into its asset
folder under assets/ (Dockerfile.renderer), so every relative `assets/...` path an example names
resolves inside the asset folder, to the same file it names next to the manifest."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from reelkube.api.pod_contract import DEFAULT_ASSET_DIR

from .policies import cluster_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def relative_paths(value: Any) -> Iterator[str]:
    """Every string in a manifest that is a relative `assets/...` path."""
    if isinstance(value, dict):
        for item in value.values():
            yield from relative_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from relative_paths(item)
    elif isinstance(value, str) and value.startswith("assets/"):
        yield value


def test_the_renderer_image_bakes_the_examples_assets_where_the_examples_name_them() -> None:
    dockerfile = (ROOT / "Dockerfile.renderer").read_text()
    assert re.search(rf"^COPY examples/assets {re.escape(DEFAULT_ASSET_DIR)}/assets$", dockerfile, re.M)


def test_every_example_path_resolves_inside_the_asset_folder(tmp_path: Path) -> None:
    asset_dir = tmp_path / "opt-reelkube-assets"
    shutil.copytree(EXAMPLES / "assets", asset_dir / "assets")  # what the image's COPY makes
    policy = cluster_policy(asset_dir=asset_dir)
    checked = 0
    for manifest in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            for path in relative_paths(doc):
                resolved = policy.local_path(path, Path("/nowhere"), f"{manifest.name}: {path}")
                assert resolved == (asset_dir / path).resolve()
                assert resolved.is_file() == (EXAMPLES / path).is_file(), path
                checked += 1
    assert checked >= 10
