"""The field docstrings cache: the models' JSON schemas (whence the CRDs' descriptions) are the
same whether pydantic reads the docstrings from the source or from the cache, and a second
process reads none from the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCHEMAS = """
import json
from reelkube.api import field_docs
from reelkube.api.renderjob import RenderJob
from reelkube.api.status import ResourceStatus
from reelkube.api.ttsjob import TTSJob
schemas = {m.__name__: m.model_json_schema() for m in (RenderJob, TTSJob, ResourceStatus)}
print(json.dumps({"schemas": schemas, "extracted": sorted(field_docs._found)}))
"""


def schemas_in_new_process(cache: Path) -> dict:
    env = {**os.environ, "REELKUBE_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", SCHEMAS], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def test_cached_docstrings_give_the_same_schemas(tmp_path: Path) -> None:
    cold = schemas_in_new_process(tmp_path)
    assert "reelkube.api.output:OutputSpec" in cold["extracted"]
    (written,) = tmp_path.glob("field-docs-*.pickle")
    warm = schemas_in_new_process(tmp_path)
    assert warm["extracted"] == []  # every API model's docstrings came from the file
    assert warm["schemas"] == cold["schemas"]
    crf = warm["schemas"]["RenderJob"]["$defs"]["OutputSpec"]["properties"]["crf"]
    assert crf["description"].startswith("Constant rate factor")

    # A damaged file: pydantic reads the source again, and the file is written anew.
    written.write_bytes(b"damaged")
    again = schemas_in_new_process(tmp_path)
    assert again["schemas"] == cold["schemas"] and again["extracted"] == cold["extracted"]
    assert written.read_bytes() != b"damaged"


def test_an_unwritable_cache_folder_changes_no_schema(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    reference = schemas_in_new_process(tmp_path / "cache")
    for _ in range(2):
        assert schemas_in_new_process(blocker / "cache")["schemas"] == reference["schemas"]
