"""The chart's embedded storage (templates/storage.yaml, _storage.tpl): when it is on, what it
renders, and what the operator is told (helm template). On the cluster:
tests/e2e/test_quick_start_cluster.py."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from tests.chart.test_chart import CHART, find, helm, helm_binary, needs_helm, template

from reelkube.controller.settings import settings_from_env

__all__ = ["helm_binary"]  # the fixture needs_helm asks for

STORAGE = "reelkube-storage"
SECRET = "reelkube-storage-credentials"
OWN_STORAGE = ("storage.endpoint=http://minio.minio:9000", "storage.bucket=renders")


def _operator_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = find(docs, "Deployment", "reelkube")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _storage_objects(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted(
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "storage"
    )


def _service_host_variable(service_name: str) -> str:
    # How the kubelet names a Service's variables (pkg/kubelet/envvars): upper case, '-' -> '_'.
    return service_name.upper().replace("-", "_") + "_SERVICE_HOST"


def _expand(value: str, variables: dict[str, str]) -> str:
    """$(VAR) as the kubelet expands it in a container's env (an unknown one stays as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: variables.get(m.group(1), m.group(0)), value)


@needs_helm
def test_without_an_endpoint_or_bucket_the_chart_runs_its_own_storage() -> None:
    docs = template()

    assert _storage_objects(docs) == [
        ("Deployment", STORAGE),
        ("NetworkPolicy", STORAGE),
        ("PersistentVolumeClaim", STORAGE),
        ("Secret", SECRET),
        ("Service", STORAGE),
    ]
    (service,) = find(docs, "Service", STORAGE)
    assert service["metadata"]["namespace"] == "reelkube-system"
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "storage"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "s3", "port": 9000, "targetPort": "s3"}]
    (deployment,) = find(docs, "Deployment", STORAGE)
    pod = deployment["spec"]["template"]
    assert (
        service["spec"]["selector"]
        == pod["metadata"]["labels"]
        == deployment["spec"]["selector"]["matchLabels"]
    )
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "reelkube/storage:dev"
    assert "-buckets=reelkube" in container["args"] and "-region=us-east-1" in container["args"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/healthz", "port": "s3"}
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": STORAGE}
    assert volumes["credentials"]["secret"]["secretName"] == SECRET
    assert "-credentials-dir=/etc/reelkube-storage" in container["args"]
    (claim,) = find(docs, "PersistentVolumeClaim", STORAGE)
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    (secret,) = find(docs, "Secret", SECRET)
    keys = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(keys) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert len(keys["AWS_SECRET_ACCESS_KEY"]) == 40 and keys["AWS_ACCESS_KEY_ID"].startswith("reelkube-")
    # The operator's own pods and Service do not select the storage pod, nor the other way round.
    (operator,) = find(docs, "Deployment", "reelkube")
    operator_labels = operator["spec"]["template"]["metadata"]["labels"]
    assert not set(service["spec"]["selector"].items()) <= set(operator_labels.items())
    assert not set(operator["spec"]["selector"]["matchLabels"].items()) <= set(
        pod["metadata"]["labels"].items()
    )


@needs_helm
def test_the_operator_gets_the_storage_clusterip_bucket_and_secret_without_needing_dns() -> None:
    env = _operator_env(template())

    variable = _service_host_variable(STORAGE)
    assert env["REELKUBE_STORAGE_ENDPOINT"] == f"http://$({variable}):9000"
    assert env["REELKUBE_EMBEDDED_STORAGE_URL"] == f"http://{STORAGE}.reelkube-system.svc:9000"
    assert env["REELKUBE_STORAGE_BUCKET"] == "reelkube"
    assert env["REELKUBE_STORAGE_CREDENTIALS_SECRET"] == SECRET
    # What the operator parses once the kubelet has expanded the Service's variable.
    expanded = {name: _expand(value, {variable: "10.96.7.8"}) for name, value in env.items()}
    storage = settings_from_env(expanded).storage
    assert storage.endpoint_url == "http://10.96.7.8:9000"
    assert (storage.bucket, storage.credentials_secret) == ("reelkube", SECRET)


@pytest.mark.parametrize(
    "sets",
    [
        pytest.param(OWN_STORAGE, id="own endpoint"),
        pytest.param(("storage.bucket=renders",), id="AWS S3 (a bucket, no endpoint)"),
        pytest.param(("storage.embedded.enabled=false",), id="switched off"),
    ],
)
@needs_helm
def test_configured_storage_turns_the_embedded_storage_off(sets: tuple[str, ...]) -> None:
    docs = template(*sets)

    assert _storage_objects(docs) == []
    env = _operator_env(docs)
    assert "$(" not in env["REELKUBE_STORAGE_ENDPOINT"]
    assert env["REELKUBE_EMBEDDED_STORAGE_URL"] == ""
    assert env["REELKUBE_STORAGE_CREDENTIALS_SECRET"] == ""


@needs_helm
def test_own_endpoint_keeps_its_values() -> None:
    env = _operator_env(template(*OWN_STORAGE, "storage.credentialsSecret=s3-keys"))
    assert env["REELKUBE_STORAGE_ENDPOINT"] == "http://minio.minio:9000"
    assert (env["REELKUBE_STORAGE_BUCKET"], env["REELKUBE_STORAGE_CREDENTIALS_SECRET"]) == (
        "renders",
        "s3-keys",
    )


@needs_helm
def test_forcing_the_embedded_storage_beside_an_endpoint_is_refused() -> None:
    proc = helm(
        "template", "reelkube", str(CHART), "--kube-version", "1.35.0",
        "--set", "storage.embedded.enabled=true", "--set", "storage.endpoint=http://minio:9000",
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "storage.embedded.enabled=true and storage.endpoint are both set" in proc.stderr


@needs_helm
def test_forced_on_with_an_aws_bucket_name_uses_that_bucket() -> None:
    docs = template("storage.embedded.enabled=true", "storage.bucket=renders")
    (deployment,) = find(docs, "Deployment", STORAGE)
    assert "-buckets=renders" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert _operator_env(docs)["REELKUBE_STORAGE_BUCKET"] == "renders"


@needs_helm
def test_the_credentials_are_copied_where_render_pods_run() -> None:
    docs = template(
        "watchNamespaces={team-a,team-b}", "storage.embedded.credentialsNamespaces={team-c,team-a}"
    )

    secrets = find(docs, "Secret", SECRET)
    assert sorted(s["metadata"]["namespace"] for s in secrets) == [
        "reelkube-system",
        "team-a",
        "team-b",
        "team-c",
    ]
    assert len({tuple(sorted(s["data"].items())) for s in secrets}) == 1  # one key pair everywhere


@needs_helm
def test_a_secret_of_ones_own_replaces_the_generated_one() -> None:
    docs = template("storage.credentialsSecret=my-keys")

    assert find(docs, "Secret", SECRET) == []
    (deployment,) = find(docs, "Deployment", STORAGE)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["credentials"]["secret"]["secretName"] == "my-keys"
    assert _operator_env(docs)["REELKUBE_STORAGE_CREDENTIALS_SECRET"] == "my-keys"


@needs_helm
def test_persistence_choices() -> None:
    no_class = find(template("storage.embedded.persistence.storageClassName=-"), "PersistentVolumeClaim")
    assert no_class[0]["spec"]["storageClassName"] == ""
    named = find(template("storage.embedded.persistence.storageClassName=fast"), "PersistentVolumeClaim")
    assert named[0]["spec"]["storageClassName"] == "fast"

    existing = template("storage.embedded.persistence.existingClaim=kept")
    assert find(existing, "PersistentVolumeClaim") == []
    (deployment,) = find(existing, "Deployment", STORAGE)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "kept"}

    ephemeral = template("storage.embedded.persistence.enabled=false")
    assert find(ephemeral, "PersistentVolumeClaim") == []
    (deployment,) = find(ephemeral, "Deployment", STORAGE)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


@needs_helm
def test_no_network_policy_when_switched_off() -> None:
    assert find(template("networkPolicy.enabled=false"), "NetworkPolicy", STORAGE) == []
    (policy,) = find(template(), "NetworkPolicy", STORAGE)
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9000}]}]
    assert policy["spec"]["egress"] == []


@needs_helm
def test_schema_refuses_bad_embedded_values() -> None:
    for bad in (
        "storage.embedded.enabled=sometimes",
        "storage.embedded.bucket=No_Such_Bucket",
        "storage.embedded.persistence.size=lots",
        "storage.embedded.credentialsNamespaces={Team_A}",
        "storage.embedded.image.pullPolicy=Sometimes",
    ):
        proc = helm("template", "reelkube", str(CHART), "--kube-version", "1.35.0", "--set", bad, check=False)
        assert proc.returncode != 0, bad
        assert "values don't meet" in proc.stderr.lower() or "schema" in proc.stderr.lower(), proc.stderr
