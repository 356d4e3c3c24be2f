"""The chart's caps at admission: the rendered ValidatingAdmissionPolicies and their bindings
(structure, with helm template), and their CEL evaluated locally with cel-python against sample
objects and Namespaces (tests.support.admission_cel; ``quantity()`` is shimmed there).

Not proven here: the API server's type checking against the CRD schemas, its cost limits and a
real refusal at kubectl apply (tests/chart/test_admission_cluster.py).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
from tests.chart.test_chart import find, helm_binary, needs_helm, template
from tests.support.admission_cel import parse_quantity, refusals

from support import yamls

ROOT = Path(__file__).resolve().parents[2]
PROFILE_LABEL = "reelkube.io/admission-profile"


def _policies(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in find(docs, "ValidatingAdmissionPolicy")}


def _namespace(profile: str | None) -> dict[str, Any]:
    labels = {PROFILE_LABEL: profile} if profile else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": labels}}


def _render(spec: dict[str, Any], kind: str = "RenderJob") -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "r", "namespace": "team-a"},
        "spec": {"timeoutSeconds": 1800, "retries": 2, **spec},
    }


def _refusals(
    docs: list[dict[str, Any]], obj: dict[str, Any], profile: str | None = None, **kw: Any
) -> list[str]:
    namespace = _namespace(profile)
    policies = _policies(docs)
    (params,) = find(docs, "AdmissionLimits")
    names = ["reelkube-limits"] + (["reelkube-render-limits"] if obj["kind"] == "RenderJob" else [])
    return [
        message for name in names for message in refusals(policies[name], obj, namespace, params=params, **kw)
    ]


__all__ = ["helm_binary"]  # the fixture needs_helm names


@functools.cache
def _rendered_with_a_small_profile() -> list[dict[str, Any]]:
    return template(
        "admission.profiles.small.maxDurationSeconds=600",
        "admission.profiles.small.allowGpu=false",
        "admission.profiles.small.maxCpu=2",
        "admission.profiles.small.maxMemory=4Gi",
    )


@pytest.fixture
def docs(helm_binary: str) -> list[dict[str, Any]]:
    """The chart rendered once for the module (helm template costs half a second), a copy per test."""
    del helm_binary
    return copy.deepcopy(_rendered_with_a_small_profile())


@needs_helm
def test_policies_and_bindings_render(docs: list[dict[str, Any]]) -> None:
    policies = _policies(docs)
    # (reelkube-storage, on spec.storage, has its own tests: test_admission_storage.py)
    assert set(policies) == {"reelkube-limits", "reelkube-render-limits", "reelkube-storage"}
    for policy in policies.values():
        assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert all(v.get("messageExpression") for v in policy["spec"]["validations"])
    # The caps are the parameters of the two cap policies: a cluster-scoped custom resource, not a
    # ConfigMap (see the template's comment, kubernetes/kubernetes#133827).
    for name in ("reelkube-limits", "reelkube-render-limits"):
        kind = policies[name]["spec"]["paramKind"]
        assert kind == {"apiVersion": "reelkube.io/v1alpha1", "kind": "AdmissionLimits"}
    assert "paramKind" not in policies["reelkube-storage"]["spec"]
    bindings = {d["metadata"]["name"]: d["spec"] for d in find(docs, "ValidatingAdmissionPolicyBinding")}
    params = {"name": "reelkube", "parameterNotFoundAction": "Deny"}
    assert bindings == {
        name: {"policyName": name, "validationActions": ["Deny"]}
        | ({"paramRef": params} if name != "reelkube-storage" else {})
        for name in policies
    }
    assert [d["metadata"]["name"] for d in find(docs, "AdmissionLimits")] == ["reelkube"]
    assert not find(docs, "ConfigMap")


@needs_helm
def test_the_parameters_hold_the_default_and_each_profile_as_set(docs: list[dict[str, Any]]) -> None:
    (params,) = find(docs, "AdmissionLimits")
    assert params["apiVersion"] == "reelkube.io/v1alpha1"
    assert params["spec"]["profiles"] == {
        "small": {"maxDurationSeconds": "600", "allowGpu": "false", "maxCpu": "2", "maxMemory": "4Gi"}
    }
    assert params["spec"]["limits"]["maxPixels"] == "8294400"
    assert all(isinstance(v, str) for v in params["spec"]["limits"].values())


@needs_helm
def test_a_profile_changes_only_what_it_names(docs: list[dict[str, Any]]) -> None:
    """A cap the profile does not name is the default's (maxPixels, maxRetries), one it names is
    the profile's."""
    source = (
        "(profile small of namespace team-a: spec.profiles.small of AdmissionLimits reelkube,"
        " chart value admission.profiles.small)"
    )
    wide = _render({"template": "x", "retries": 6, "output": {"width": 3841, "height": 2160}})
    assert _refusals(docs, wide, profile="small") == [
        f"spec.retries 6 is over the cap maxRetries=5 {source}",
        f"spec.output width x height 3841x2160 is over the cap maxPixels=8294400 {source}",
    ]
    long = _render({"template": "x", "output": {"maxDurationSeconds": 601}})
    assert _refusals(docs, long, profile="small") == [
        "spec.output.maxDurationSeconds 601s (3600 unless set) is over the cap maxDurationSeconds=600"
        f" {source}: set spec.output.maxDurationSeconds within it"
    ]


@needs_helm
def test_disabled_renders_nothing() -> None:
    off = template("admission.enabled=false")
    assert not find(off, "ValidatingAdmissionPolicy") and not find(off, "ValidatingAdmissionPolicyBinding")


def _examples() -> list[dict[str, Any]]:
    out = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        out += [d for d in yamls.load_all(path.read_text()) if d and d.get("kind") in ("RenderJob", "TTSJob")]
    return out


@needs_helm
def test_every_example_is_admitted_under_the_defaults(docs: list[dict[str, Any]]) -> None:
    examples = _examples()
    assert len(examples) >= 10
    for example in examples:
        obj = copy.deepcopy(example)
        obj["metadata"]["namespace"] = "team-a"
        obj["spec"].setdefault("timeoutSeconds", 1800)  # the CRD defaults, applied before admission
        obj["spec"].setdefault("retries", 2)
        assert _refusals(docs, obj) == [], example["metadata"]["name"]


OVER_DEFAULT_CAPS: dict[str, tuple[dict[str, Any], str]] = {
    "10-hour timeline": (
        {"timeline": {"duration": 36000, "tracks": []}},
        "spec.timeline.duration 36000",
    ),
    "10-hour output cap": (
        {"template": "x", "output": {"maxDurationSeconds": 36000}},
        "maxDurationSeconds=3600",
    ),
    "7680 x 7680 output (the CRD's largest)": (
        {"template": "x", "output": {"width": 7680, "height": 7680}},
        "maxPixels=8294400",
    ),
    "8K timeline": (
        {"timeline": {"width": 7680, "height": 4320, "tracks": []}},
        "spec.timeline width x height",
    ),
    "120 fps": ({"template": "x", "output": {"fps": 120}}, "spec.output.fps 120"),
    "timeline fps": ({"timeline": {"fps": 90.5, "tracks": []}}, "maxFps=60"),
    "a day's timeout": ({"template": "x", "timeoutSeconds": 86400}, "spec.timeoutSeconds 86400"),
    "ten retries": ({"template": "x", "retries": 10}, "spec.retries 10 is over the cap maxRetries=5"),
    "64 CPUs": (
        {"template": "x", "resources": {"cpu": "64"}},
        "spec.resources.cpu 64 is over the cap maxCpu=16",
    ),
    "16001m CPU": ({"template": "x", "resources": {"cpu": "16001m"}}, "maxCpu=16"),
    "512Gi memory": ({"template": "x", "resources": {"memory": "512Gi"}}, "spec.resources.memory 512Gi"),
}


@needs_helm
@pytest.mark.parametrize("case", OVER_DEFAULT_CAPS)
def test_over_a_default_cap_is_refused_naming_the_cap(docs: list[dict[str, Any]], case: str) -> None:
    spec, expected = OVER_DEFAULT_CAPS[case]
    messages = _refusals(docs, _render(spec))
    assert len(messages) == 1, messages
    assert expected in messages[0]
    assert (
        "(the cluster default: spec.limits of AdmissionLimits reelkube, chart value admission.limits)"
        in (messages[0])
    )


@needs_helm
def test_at_the_caps_is_admitted(docs: list[dict[str, Any]]) -> None:
    at_caps = {
        "timeline": {"duration": 3600, "width": 3840, "height": 2160, "fps": 60, "tracks": []},
        "output": {"width": 3840, "height": 2160, "fps": 60, "maxDurationSeconds": 3600, "gpu": True},
        "timeoutSeconds": 21600,
        "retries": 5,
        "resources": {"cpu": "16000m", "memory": "64Gi"},
    }
    assert _refusals(docs, _render(at_caps)) == []
    tts = _render({"text": "hi", "resources": {"cpu": "500m", "memory": "65536Mi"}}, kind="TTSJob")
    assert _refusals(docs, tts) == []


@needs_helm
def test_a_profile_caps_its_namespaces_only(docs: list[dict[str, Any]]) -> None:
    gpu = _render({"template": "x", "output": {"gpu": True}, "resources": {"cpu": "4", "memory": "8Gi"}})
    assert _refusals(docs, gpu) == []
    messages = _refusals(docs, gpu, profile="small")
    assert any("spec.output.gpu is not allowed" in m and "admission.profiles.small" in m for m in messages)
    # A label naming no profile of the chart gets the cluster default.
    assert _refusals(docs, gpu, profile="unknown") == []
    assert any("spec.resources.cpu 4 is over the cap maxCpu=2" in m for m in messages)
    assert any("spec.resources.memory 8Gi is over the cap maxMemory=4Gi" in m for m in messages)
    tts = _render({"text": "hi", "resources": {"memory": "5Gi"}}, kind="TTSJob")
    assert _refusals(docs, tts, profile="small") == [
        "spec.resources.memory 5Gi is over the cap maxMemory=4Gi"
        " (profile small of namespace team-a: spec.profiles.small of AdmissionLimits reelkube,"
        " chart value admission.profiles.small)"
    ]


@needs_helm
def test_only_creation_is_checked(docs: list[dict[str, Any]]) -> None:
    """The capped fields are immutable once created (the CRD's rules); an update of a resource
    admitted under older caps (the operator's finalizers, spec.cancel) must still pass."""
    for policy in _policies(docs).values():
        rules = policy["spec"]["matchConstraints"]["resourceRules"]
        assert [r["operations"] for r in rules] == [["CREATE"]]


@needs_helm
def test_a_lower_duration_cap_asks_for_an_explicit_output_cap(docs: list[dict[str, Any]]) -> None:
    """The CRD defaults spec.output.maxDurationSeconds to 3600: under a lower cap a resource must
    set it, and the message says so."""
    messages = _refusals(docs, _render({"template": "x", "output": {"maxDurationSeconds": 3600}}), "small")
    assert messages == [
        "spec.output.maxDurationSeconds 3600s (3600 unless set) is over the cap maxDurationSeconds=600"
        " (profile small of namespace team-a: spec.profiles.small of AdmissionLimits reelkube,"
        " chart value admission.profiles.small):"
        " set spec.output.maxDurationSeconds within it"
    ]
    assert _refusals(docs, _render({"template": "x", "output": {"maxDurationSeconds": 600}}), "small") == []


@needs_helm
def test_an_empty_cap_is_no_cap() -> None:
    docs = template("admission.limits.maxRetries=", "admission.limits.maxMemory=")
    assert _refusals(docs, _render({"template": "x", "retries": 10, "resources": {"memory": "1Ti"}})) == []


def test_quantity_shim_follows_kubernetes_suffixes() -> None:
    assert parse_quantity("1500m").value == parse_quantity("1.5").value
    assert parse_quantity("1Gi").value == 1024 * parse_quantity("1Mi").value
    assert parse_quantity("1G").value == 1000 * parse_quantity("1M").value
    assert parse_quantity("1e3").value == parse_quantity("1k").value
    with pytest.raises(ValueError):
        parse_quantity("lots")
