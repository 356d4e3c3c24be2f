"""``spec.queueName`` (Kueue): a DNS-1123 label on both kinds, immutable, documented for
``kubectl explain``, and refused beside a ``priority`` that Kueue would ignore (in the model and
in the CRD's CEL rule, evaluated as the API server would)."""

from __future__ import annotations

import pytest

from reelkube.api.common import QUEUE_PRIORITY_MESSAGE
from reelkube.api.crd import build_crd
from reelkube.api.validation import cel_errors, schema_defaulted, update_errors, validate_spec

SPECS = {"RenderJob": {"template": "static-ad", "props": {"headline": "Hi"}}, "TTSJob": {"text": "Hello."}}


def spec_schema(kind: str) -> dict:
    return build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


@pytest.mark.parametrize("kind", SPECS)
def test_queue_name_is_an_optional_dns_label(kind: str) -> None:
    spec = SPECS[kind]
    parsed, errors = validate_spec(kind, {**spec, "queueName": "team-a"})
    assert errors == [] and parsed is not None
    assert parsed.queueName == "team-a"  # type: ignore[attr-defined]
    parsed, errors = validate_spec(kind, spec)
    assert errors == [] and parsed.queueName is None  # type: ignore[union-attr]
    for bad in ("Team-A", "team_a", "-team", "x" * 64, ""):
        _, errors = validate_spec(kind, {**spec, "queueName": bad})
        assert [e.path for e in errors] == ["spec.queueName"], bad
    field = spec_schema(kind)["properties"]["queueName"]
    assert field["type"] == "string" and field["maxLength"] == 63
    assert field["pattern"] == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    assert "kueue.x-k8s.io/queue-name" in field["description"]  # what kubectl explain shows


@pytest.mark.parametrize("kind", SPECS)
def test_a_priority_beside_a_queue_name_is_refused(kind: str) -> None:
    spec = {**SPECS[kind], "queueName": "team-a"}
    _, errors = validate_spec(kind, {**spec, "priority": 5})
    assert len(errors) == 1 and errors[0].message.endswith(QUEUE_PRIORITY_MESSAGE)
    assert validate_spec(kind, {**spec, "priority": 0})[1] == []
    # The CRD's own rule, on the object the API server would default and check.
    schema = spec_schema(kind)
    refused = cel_errors(schema, schema_defaulted(schema, {**spec, "priority": 5}), "spec")
    assert [(e.path, e.message) for e in refused] == [("spec", QUEUE_PRIORITY_MESSAGE)]
    assert cel_errors(schema, schema_defaulted(schema, spec), "spec") == []
    assert cel_errors(schema, schema_defaulted(schema, {**SPECS[kind], "priority": 5}), "spec") == []


@pytest.mark.parametrize("kind", SPECS)
def test_the_queue_cannot_change_after_creation(kind: str) -> None:
    spec = SPECS[kind]
    verb = "re-render" if kind == "RenderJob" else "re-run"
    message = f"spec.queueName is immutable once created: delete and re-create to {verb}"
    queued = {**spec, "queueName": "team-a"}
    assert {e.message for e in update_errors(kind, queued, {**spec, "queueName": "team-b"})} == {message}
    assert {e.message for e in update_errors(kind, spec, queued)} == {message}
    assert update_errors(kind, queued, {**queued, "cancel": True}) == []
