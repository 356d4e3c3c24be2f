"""The CRDs in crds/ are generated from the models, structural, and documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelkube.api.crd import crd_files
from support import yamls

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN_KEYS = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const", "discriminator"}
GENERATED = crd_files()
"""File name -> YAML text, generated from the models once for the module (it takes a while)."""


def walk(schema: dict[str, Any], path: str = ""):
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_crds_match_the_models(name: str) -> None:
    committed = (REPO / "crds" / name).read_text()
    assert committed == GENERATED[name], f"crds/{name} drifted from the models: run `reelkube crds`"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_is_structural_and_documented(name: str) -> None:
    crd = yamls.load(GENERATED[name])
    version = crd["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    undocumented = []
    for path, node in walk(root["properties"]["spec"], "spec"):
        assert not FORBIDDEN_KEYS & node.keys(), f"{path} is not structural: {FORBIDDEN_KEYS & node.keys()}"
        # int-or-string (spec.output.chunks) is the one untyped kind of node a structural schema allows.
        assert "type" in node or node.get("x-kubernetes-int-or-string") is True, f"{path} has no type"
        if "properties" in node:
            assert "additionalProperties" not in node, f"{path} mixes properties and additionalProperties"
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if key in node:
                assert node[key] is True, f"{path}.{key} must be the OpenAPI v3.0 boolean form"
        if path != "spec" and not path.endswith("[]") and not node.get("description"):
            undocumented.append(path)
    assert not undocumented, f"fields without a description (kubectl explain): {undocumented}"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    chunks = ["Chunks"] if crd["spec"]["names"]["kind"] == "RenderJob" else []
    assert columns == ["Phase", "Progress", *chunks, "Output", "Age"]


def test_short_names() -> None:
    names = {
        yamls.load(text)["spec"]["names"]["kind"]: yamls.load(text)["spec"]["names"]["shortNames"]
        for text in GENERATED.values()
    }
    assert names == {"RenderJob": ["rj"], "TTSJob": ["ttsj"]}


def test_clip_union_is_merged_with_per_kind_rules() -> None:
    crd = yamls.load(GENERATED["renderjobs.reelkube.io.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    clip = spec["properties"]["timeline"]["properties"]["tracks"]["items"]["properties"]["clips"]["items"]
    assert clip["properties"]["type"]["enum"] == ["video", "image", "color", "text", "subtitles", "audio"]
    rules = {r["rule"] for r in clip["x-kubernetes-validations"]}
    assert "self.type != 'text' || has(self.text)" in rules
    assert "!has(self.kenBurns) || self.type in ['image']" in rules


def test_h264_defaults_are_in_the_schema() -> None:
    crd = yamls.load(GENERATED["renderjobs.reelkube.io.yaml"])
    output = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "output"
    ]
    props = output["properties"]
    assert (props["codec"]["default"], props["crf"]["default"], props["preset"]["default"]) == (
        "h264",
        23,
        "veryfast",
    )


YAML11_BOOLS = {"y", "Y", "n", "N", "yes", "Yes", "no", "No", "on", "On", "off", "Off"}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_no_field_name_that_yaml_1_1_reads_as_a_boolean(name: str) -> None:
    # kubectl and helm parse YAML 1.1: a bare `y:` key becomes `true` (as Box.y once did).
    crd = yamls.load(GENERATED[name])
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    names = {path.rsplit(".", 1)[-1] for path, _ in walk(root)}
    assert not names & YAML11_BOOLS
