"""The validation cache: a kind's spec schema and parsed CEL rules kept on disk give the same
answers as building them, a damaged or unwritable cache changes nothing but speed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reelkube.api import validation
from reelkube.api.crd import build_crd
from reelkube.api.validation import api_digest, spec_rules, validate_spec

BAD_SPEC = {"template": "slideshow", "output": {"format": "webm", "width": 101}}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder, and no kind's rules loaded in this process."""
    monkeypatch.setenv("REELKUBE_CACHE", str(tmp_path))
    forget()
    yield tmp_path
    forget()


def forget() -> None:
    spec_rules.cache_clear()
    validation._program.cache_clear()
    validation._PARSED.clear()


def messages(kind: str, spec: dict) -> list[str]:
    return [str(error) for error in validate_spec(kind, spec)[1]]


def test_the_cached_schema_and_rules_are_the_built_ones(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    earlier_api = cache / "validation-RenderJob-0123456789abcdef0123456789abcdef.pickle"
    earlier_api.write_bytes(b"the cache of an earlier version of the models")
    fresh = messages("RenderJob", BAD_SPEC)
    assert "spec.output: webm output needs codec vp9" in fresh
    (written,) = cache.glob("validation-RenderJob-*.pickle")
    assert written.name == f"validation-RenderJob-{api_digest()}.pickle"
    built = build_crd("RenderJob")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    # The next process reads the file: nothing is generated or parsed again.
    forget()
    monkeypatch.setattr(validation, "build_crd", lambda kind: pytest.fail("schema generated again"))
    monkeypatch.setattr(validation, "_parse", lambda rule: pytest.fail(f"rule parsed again: {rule}"))
    loaded = spec_rules("RenderJob")
    assert loaded.schema == built
    assert len(loaded.parsed) > 20
    for rule, tree in loaded.parsed.items():
        assert validation.pickle.loads(tree) == validation.celpy.Environment().compile(rule)
    assert messages("RenderJob", BAD_SPEC) == fresh
    assert messages("RenderJob", {"template": "captioned-reel", "props": {"title": "Hi"}}) == []


def test_a_damaged_cache_file_is_rebuilt(cache: Path) -> None:
    path = cache / f"validation-TTSJob-{api_digest()}.pickle"
    path.write_bytes(b"not a pickle")
    fresh = messages("TTSJob", {})
    assert fresh and path.read_bytes() != b"not a pickle"
    forget()
    assert messages("TTSJob", {}) == fresh


def test_an_unwritable_cache_folder_changes_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("REELKUBE_CACHE", str(blocker / "cache"))  # under a file: cannot exist
    forget()
    try:
        assert "spec.output: webm output needs codec vp9" in messages("RenderJob", BAD_SPEC)
    finally:
        forget()
