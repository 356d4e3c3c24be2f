"""spec.storage at admission (templates/admission-storage.yaml): with allowSpecStorage false, a
resource that names another bucket, endpoint, region, credentials or a prefix outside its
namespace's area is refused at apply with a message naming the field, and the policy admits
exactly what the operator's own check (storage/tenancy.check_spec_storage) admits.

The policies' CEL is evaluated locally (support.admission_cel); tests/chart/test_admission_cluster
applies the chart's policies to the real API server.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from tests.chart.test_chart import find, helm_binary, needs_helm, template
from tests.support.admission_cel import refusals

from reelkube.api.common import StorageSpec
from reelkube.storage.tenancy import ChartStorage, StorageForbidden, check_spec_storage

__all__ = ["helm_binary"]  # the fixture needs_helm names

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {}}}
OWN_STORAGE = ("storage.endpoint=http://minio.example:9000", "storage.bucket=media", "storage.prefix=out")


@functools.cache
def _policy(*sets: str) -> dict[str, Any] | None:
    found = [
        d
        for d in find(template(*sets), "ValidatingAdmissionPolicy")
        if d["metadata"]["name"].endswith("-storage")
    ]
    return found[0] if found else None


def _refused(storage: dict[str, Any], *sets: str) -> list[str]:
    policy = _policy(*sets)
    assert policy is not None
    obj = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "r", "namespace": "team-a"},
        "spec": {"template": "captioned-reel", "props": {"title": "x"}, "storage": storage},
    }
    return refusals(policy, obj, NAMESPACE)


E = "http://minio.example:9000"


def storage(**fields: str | None) -> dict[str, Any]:
    """spec.storage naming the installation's bucket and endpoint, with `fields` changed (None:
    left out)."""
    merged: dict[str, str | None] = {"bucket": "media", "endpointUrl": E, **fields}
    return {key: value for key, value in merged.items() if value is not None}


CASES: list[tuple[dict[str, Any], str | None]] = [
    (storage(prefix="out"), None),
    (storage(prefix="out/"), None),
    (storage(prefix="out/team-a", endpointUrl=E + "/"), None),
    (storage(prefix="out/team-a/campaign-7"), None),
    (storage(prefix="out/team-b"), "spec.storage.prefix out/team-b is outside"),
    (storage(prefix="out/team-ab"), "spec.storage.prefix out/team-ab is outside"),
    (storage(prefix="elsewhere"), "spec.storage.prefix elsewhere is outside"),
    (storage(prefix="out", bucket="other-tenant"), "spec.storage.bucket other-tenant is not allowed"),
    (storage(prefix="out", credentialsSecret="mine"), "spec.storage.credentialsSecret is not allowed"),
    (storage(prefix="out", endpointUrl="http://evil.example:9000"), "spec.storage.endpointUrl must be " + E),
    (storage(prefix="out", endpointUrl=None), "endpointUrl must be " + E + " (empty means AWS S3)"),
    (storage(prefix="out", region="eu-west-1"), "spec.storage.region eu-west-1 is not allowed"),
]


@needs_helm
@pytest.mark.parametrize(("spec_storage", "refusal"), CASES)
def test_the_policy_refuses_what_the_operator_refuses(
    spec_storage: dict[str, Any], refusal: str | None
) -> None:
    refused = _refused(spec_storage, *OWN_STORAGE)
    chart = ChartStorage(
        bucket="media", prefix="out", endpoint_url="http://minio.example:9000", region="us-east-1"
    )
    spec = StorageSpec.model_validate(spec_storage)
    if refusal is None:
        assert refused == []
        check_spec_storage(spec, "team-a", chart)  # the operator agrees
    else:
        assert len(refused) == 1 and refusal in refused[0], refused
        assert "allowSpecStorage=false" in refused[0] or "is outside" in refused[0]
        with pytest.raises(StorageForbidden):
            check_spec_storage(spec, "team-a", chart)


@needs_helm
def test_without_spec_storage_nothing_is_checked() -> None:
    policy = _policy(*OWN_STORAGE)
    assert policy is not None
    obj = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "TTSJob",
        "metadata": {"name": "t", "namespace": "team-a"},
        "spec": {"text": "hello"},
    }
    assert refusals(policy, obj, NAMESPACE) == []


@needs_helm
def test_with_the_embedded_storage_its_bucket_and_area_are_the_rule() -> None:
    assert _refused({"bucket": "reelkube", "prefix": "reelkube/team-a/x"}) == []
    refused = _refused({"bucket": "reelkube", "prefix": "reelkube/team-b"})
    assert len(refused) == 1 and "use reelkube/team-a/" in refused[0]
    refused = _refused({"bucket": "elsewhere", "prefix": "reelkube/team-a"})
    assert len(refused) == 1 and "bucket of this installation is reelkube" in refused[0]
    # The embedded endpoint is a ClusterIP only pods know: the operator checks endpointUrl.
    assert _refused({"bucket": "reelkube", "endpointUrl": "http://10.96.0.50:9000"}) == []


@needs_helm
def test_allowing_spec_storage_renders_no_policy() -> None:
    assert _policy(*OWN_STORAGE, "storage.allowSpecStorage=true") is None
    assert _policy(*OWN_STORAGE, "admission.enabled=false") is None
