"""An asset library whose index file lies under an s3:// prefix, read from the project's S3
server (SigV4-verifying, on loopback) with the job's storage settings: its relative `src`s
become s3:// URIs beside the index, and a scene's query chooses one of them. No ffmpeg."""

from __future__ import annotations

from pathlib import Path

import yaml

from reelkube.api.output import OutputSpec
from reelkube.scenes.brief import AssetLibrary, BriefCommon, LibraryAsset, SceneSpec, Visual
from reelkube.scenes.planning import load_library, plan_scenes
from reelkube.scenes.splitting import drafts_from_scenes
from reelkube.templates.base import Canvas, TemplateContext
from support.s3 import S3Server


def test_an_index_under_an_s3_prefix(s3_server: S3Server, tmp_path: Path) -> None:
    storage = s3_server.storage_spec()
    prefix = f"{storage.prefix}/library"
    index = {
        "assets": [
            {"id": "harbour", "src": "harbour.jpg", "tags": ["harbour", "boats"], "attribution": "Own work"},
            {"id": "market", "src": "clips/market.mp4", "kind": "video", "tags": ["market"]},
            {"id": "elsewhere", "src": "https://example.com/sea.jpg", "tags": ["sea"]},
        ]
    }
    location = s3_server.put(f"{prefix}/index.yaml", yaml.safe_dump(index).encode())
    context = TemplateContext(output=OutputSpec(), workdir=tmp_path, base_dir=tmp_path, storage=storage)
    inline = LibraryAsset(id="inline", src="local.jpg", tags=["town"])
    assets = load_library(AssetLibrary(assets=[inline], indexUrl=location), context)
    base = f"s3://{s3_server.bucket}/{prefix}"
    assert [(a.id, a.src) for a in assets] == [
        ("inline", "local.jpg"),
        ("harbour", f"{base}/harbour.jpg"),
        ("market", f"{base}/clips/market.mp4"),
        ("elsewhere", "https://example.com/sea.jpg"),
    ]
    brief = BriefCommon(library=AssetLibrary(indexUrl=location))
    scenes = [
        SceneSpec(narration="The boats come home.", visual=Visual(query="boats in the harbour")),
        SceneSpec(narration="Then the market opens.", visual=Visual(query="market")),
    ]
    plan = plan_scenes(
        "explainer", drafts_from_scenes(scenes), brief, Canvas(width=320, height=180, fps=15), context,
        estimate=True, contact_sheet=False, voice_track=False,
    )  # fmt: skip
    chosen = [s.visual.to_dict() for s in plan.storyboard.scenes]
    assert [(c["assetId"], c["src"]) for c in chosen] == [
        ("harbour", f"{base}/harbour.jpg"),
        ("market", f"{base}/clips/market.mp4"),
    ]
    assert chosen[0]["attribution"] == "Own work"
