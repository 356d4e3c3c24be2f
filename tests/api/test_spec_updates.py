"""The spec's transition rules, evaluated with cel-python as the API server evaluates them on an
update: every field keeps its value, except ``cancel``, which may only go from false to true.

(The same rules against a real API server are still to be checked by a cluster test.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from reelkube.api.crd import build_crd
from reelkube.api.kinds import KINDS
from reelkube.api.validation import update_errors

RENDER = {"template": "static-ad", "props": {"headline": "Hi"}, "retries": 1}
TTS = {"text": "Hello there."}


def messages(kind: str, old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {e.message for e in update_errors(kind, old, new)}


@pytest.mark.parametrize(("kind", "spec"), [("RenderJob", RENDER), ("TTSJob", TTS)])
def test_cancel_may_be_set(kind: str, spec: dict[str, Any]) -> None:
    assert messages(kind, spec, spec) == set()
    assert messages(kind, spec, {**spec, "cancel": True}) == set()
    assert messages(kind, {**spec, "cancel": False}, {**spec, "cancel": True}) == set()
    assert messages(kind, {**spec, "cancel": True}, {**spec, "cancel": True}) == set()
    # Setting it to false when it was absent (defaulted to false) changes nothing.
    assert messages(kind, spec, {**spec, "cancel": False}) == set()


@pytest.mark.parametrize(("kind", "spec"), [("RenderJob", RENDER), ("TTSJob", TTS)])
def test_cancel_cannot_be_undone(kind: str, spec: dict[str, Any]) -> None:
    undone = messages(kind, {**spec, "cancel": True}, {**spec, "cancel": False})
    assert undone == {f"spec.cancel cannot be undone: delete and re-create to {verb(kind)}"}
    dropped = messages(kind, {**spec, "cancel": True}, spec)
    assert dropped == undone


def verb(kind: str) -> str:
    return "re-render" if kind == "RenderJob" else "re-run"


def test_every_other_field_is_immutable() -> None:
    changed = {**RENDER, "props": {"headline": "Bye"}}
    assert messages("RenderJob", RENDER, changed) == {
        "spec.props is immutable once created: delete and re-create to re-render"
    }
    assert messages("RenderJob", RENDER, {**RENDER, "retries": 3}) == {
        "spec.retries is immutable once created: delete and re-create to re-render"
    }
    # Adding an optional field, or removing one, is a change too.
    hooked = {**RENDER, "webhook": {"url": "https://example.invalid/hook"}}
    assert messages("RenderJob", RENDER, hooked) == {
        "spec.webhook is immutable once created: delete and re-create to re-render"
    }
    assert messages("RenderJob", hooked, RENDER) == {
        "spec.webhook is immutable once created: delete and re-create to re-render"
    }
    # Cancel together with another change: the other change is refused.
    both = messages("RenderJob", RENDER, {**RENDER, "cancel": True, "retries": 0})
    assert both == {"spec.retries is immutable once created: delete and re-create to re-render"}
    assert messages("TTSJob", TTS, {"text": "Other."}) == {
        "spec.text is immutable once created: delete and re-create to re-run"
    }


@pytest.mark.parametrize("kind", KINDS)
def test_a_rule_guards_every_spec_field_but_cancel(kind: str) -> None:
    schema = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [r["rule"] for r in schema["x-kubernetes-validations"] if "immutable" in r["message"]]
    guarded = {n for n in schema["properties"] if any(re.search(rf"oldSelf\.{n}\b", r) for r in rules)}
    assert guarded == set(schema["properties"]) - {"cancel"}
    assert schema["properties"]["cancel"] == {
        "type": "boolean",
        "default": False,
        "description": schema["properties"]["cancel"]["description"],
    }
