"""Storage and tenants: what spec.storage may choose, and which s3:// inputs a pod may read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.support.resources import render_job

from reelkube.api import pod_contract
from reelkube.api.common import InputLimits, StorageSpec
from reelkube.controller.job_manifests import build_job
from reelkube.controller.settings import OperatorSettings, StorageDefaults, settings_from_env
from reelkube.engine.inputs import fetch_one
from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy
from reelkube.storage.tenancy import (
    ChartStorage,
    S3ReadScope,
    StorageForbidden,
    check_spec_storage,
    parse_read_prefixes,
    read_scope_from_env,
)

CHART = ChartStorage(
    bucket="outputs", prefix="reelkube", endpoint_url="http://minio:9000", region="us-east-1"
)
OPEN = replace(CHART, allow_spec_storage=True)


def storage(**fields: Any) -> StorageSpec:
    return StorageSpec.model_validate({"bucket": "outputs", "endpointUrl": "http://minio:9000", **fields})


ACCEPTED: dict[str, tuple[StorageSpec | None, ChartStorage]] = {
    "no spec.storage": (None, CHART),
    "the chart's storage as is": (storage(), CHART),
    "a sub-prefix in the namespace's area": (storage(prefix="reelkube/media/drafts"), CHART),
    "the namespace's area itself": (storage(prefix="reelkube/media/"), CHART),
    "presign expiry and path style": (storage(presignExpirySeconds=600, pathStyle=False), CHART),
    "own bucket with own Secret, when allowed": (
        storage(bucket="team-a", credentialsSecret="team-a-s3"),
        OPEN,
    ),
    "own endpoint with own Secret, when allowed": (
        storage(endpointUrl="https://s3.example.com", credentialsSecret="team-a-s3"),
        OPEN,
    ),
    "the chart's bucket with own Secret, when allowed": (storage(credentialsSecret="team-a-s3"), OPEN),
}

REFUSED: dict[str, tuple[StorageSpec, ChartStorage, str]] = {
    "own bucket": (storage(bucket="team-b"), CHART, "spec.storage.bucket is not allowed"),
    "own endpoint": (
        storage(endpointUrl="http://evil:9000"),
        CHART,
        "spec.storage.endpointUrl is not allowed",
    ),
    "endpoint left empty (AWS) against a MinIO chart": (
        StorageSpec(bucket="outputs"),
        CHART,
        "spec.storage.endpointUrl is not allowed",
    ),
    "own region": (storage(region="eu-west-1"), CHART, "spec.storage.region is not allowed"),
    "own Secret": (
        storage(credentialsSecret="stolen"),
        CHART,
        "spec.storage.credentialsSecret is not allowed",
    ),
    "another namespace's area": (storage(prefix="reelkube/other"), CHART, "outside this namespace's area"),
    "a prefix beside the chart's": (storage(prefix="elsewhere"), CHART, "outside this namespace's area"),
    "a look-alike of the namespace's area": (storage(prefix="reelkube/media-x"), CHART, "outside"),
    "own bucket without a Secret, when allowed": (
        storage(bucket="team-b"),
        OPEN,
        "spec.storage.bucket names storage the chart did not configure",
    ),
    "own endpoint without a Secret, when allowed": (
        storage(endpointUrl="http://169.254.169.254"),
        OPEN,
        "spec.storage.endpointUrl names storage the chart did not configure",
    ),
    "the chart's bucket, another namespace's area, when allowed": (
        storage(prefix="reelkube/other"),
        OPEN,
        "outside this namespace's area",
    ),
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_spec_storage_accepted(case: str) -> None:
    spec, chart = ACCEPTED[case]
    check_spec_storage(spec, "media", chart)


@pytest.mark.parametrize("case", REFUSED)
def test_spec_storage_refused(case: str) -> None:
    spec, chart, message = REFUSED[case]
    with pytest.raises(StorageForbidden, match=message) as raised:
        check_spec_storage(spec, "media", chart)
    assert raised.value.reason == "StorageForbidden"
    assert not raised.value.retryable


def _settings(**storage_fields: Any) -> OperatorSettings:
    defaults = StorageDefaults(
        endpoint_url="http://minio:9000", bucket="outputs", credentials_secret="reelkube-s3", **storage_fields
    )
    return OperatorSettings(storage=defaults)


def test_build_job_refuses_forbidden_storage_before_any_manifest() -> None:
    resource = render_job(storage={"bucket": "team-b", "endpointUrl": "http://minio:9000"})
    with pytest.raises(StorageForbidden, match="spec.storage.bucket"):
        build_job(resource, _settings())


def test_default_credentials_never_sign_for_a_tenant_bucket() -> None:
    """Allowed own storage: the Job carries the tenant's Secret, never the chart's."""
    resource = render_job(
        storage={
            "bucket": "team-a",
            "endpointUrl": "https://s3.example.com",
            "credentialsSecret": "team-a-s3",
        }
    )
    env = build_job(resource, _settings(allow_spec_storage=True))["spec"]["template"]["spec"]["containers"][
        0
    ]["env"]
    secrets = {
        e["valueFrom"]["secretKeyRef"]["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secrets == {"team-a-s3"}
    with pytest.raises(StorageForbidden, match="credentialsSecret must name"):
        build_job(
            render_job(storage={"bucket": "team-a", "endpointUrl": "https://s3.example.com"}),
            _settings(allow_spec_storage=True),
        )


def test_job_tells_the_pod_its_namespace_and_read_prefixes() -> None:
    settings = settings_from_env(
        {
            "REELKUBE_STORAGE_BUCKET": "outputs",
            pod_contract.INPUTS_S3_READ_PREFIXES_ENV: "shared-media/library,stock",
        }
    )
    env = build_job(render_job(), settings)["spec"]["template"]["spec"]["containers"][0]["env"]
    by_name = {e["name"]: e for e in env}
    assert by_name[pod_contract.NAMESPACE_ENV]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert by_name[pod_contract.INPUTS_S3_READ_PREFIXES_ENV]["value"] == "shared-media/library,stock"


def test_settings_read_allow_spec_storage_and_refuse_bad_prefixes() -> None:
    assert not settings_from_env({}).storage.allow_spec_storage
    assert settings_from_env({"REELKUBE_STORAGE_ALLOW_SPEC_STORAGE": "true"}).storage.allow_spec_storage
    with pytest.raises(ValueError, match="s3ReadPrefixes"):
        settings_from_env({pod_contract.INPUTS_S3_READ_PREFIXES_ENV: "Not_A_Bucket/x"})


POD_ENV = {
    pod_contract.NAMESPACE_ENV: "media",
    pod_contract.STORAGE_BUCKET_ENV: "outputs",
    pod_contract.STORAGE_PREFIX_ENV: "reelkube",
    pod_contract.INPUTS_S3_READ_PREFIXES_ENV: "shared-media/library, stock",
}

READABLE = [
    "s3://outputs/reelkube/media/intro-1234abcd/video.mp4",
    "s3://shared-media/library/logo.png",
    "s3://shared-media/library/deep/er/logo.png",
    "s3://stock/anything.mp4",
]
UNREADABLE = [
    "s3://outputs/reelkube/other/secret-1234abcd/video.mp4",  # another namespace's outputs
    "s3://outputs/reelkube/media-x/a.mp4",  # a namespace whose name starts like ours
    "s3://outputs/other-prefix/media/a.mp4",
    "s3://shared-media/library-private/a.png",  # whole segments only
    "s3://shared-media/other/a.png",
    "s3://elsewhere/reelkube/media/a.mp4",
    "s3://outputs/reelkube/media/../other/a.mp4",
]


@pytest.mark.parametrize("uri", READABLE)
def test_pod_reads_listed_prefixes_and_its_own_area(uri: str) -> None:
    read_scope_from_env(POD_ENV, None).check(uri, "spec.timeline input")


@pytest.mark.parametrize("uri", UNREADABLE)
def test_pod_refuses_other_namespaces_and_unlisted_prefixes(uri: str) -> None:
    with pytest.raises(InputForbidden, match="spec.timeline input") as raised:
        read_scope_from_env(POD_ENV, None).check(uri, "spec.timeline input")
    assert raised.value.reason == "InputForbidden"


def test_own_storage_area_is_readable_and_no_namespace_means_no_area() -> None:
    own = StorageSpec(bucket="team-a", prefix="renders")
    read_scope_from_env(POD_ENV, own).check("s3://team-a/renders/media/x-1/a.mp4", "f")
    with pytest.raises(InputForbidden):
        read_scope_from_env(POD_ENV, own).check("s3://team-a/renders/other/x-1/a.mp4", "f")
    no_namespace = {k: v for k, v in POD_ENV.items() if k != pod_contract.NAMESPACE_ENV}
    assert read_scope_from_env(no_namespace, None) == S3ReadScope(
        prefixes=(("shared-media", "library"), ("stock", ""))
    )


def test_read_prefixes_parse_s3_uris_and_refuse_garbage() -> None:
    assert parse_read_prefixes(["s3://stock/", "a-bucket/x/y/", " "]) == (("stock", ""), ("a-bucket", "x/y"))
    with pytest.raises(ValueError, match="inputs.s3ReadPrefixes"):
        parse_read_prefixes(["s3://bucket/../x"])


def test_fetch_refuses_another_namespaces_output_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster policy applies the scope before S3 is asked anything (no client, no request)."""
    for name, value in POD_ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InputForbidden, match="outside the readable S3 prefixes"):
        fetch_one(
            "s3://outputs/reelkube/other/secret-1234abcd/video.mp4",
            "video",
            tmp_path,
            InputLimits(),
            base_dir=tmp_path,
            storage=None,
            policy=InputPolicy.cluster(asset_dir=tmp_path),
        )
