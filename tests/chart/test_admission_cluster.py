"""The chart's admission policies on the real API server: a resource over a cap is refused at
``kubectl apply`` with the cap's message, per namespace (a profile chosen by the Namespace's
label), the examples are admitted, the API server's type check finds nothing to warn about, and
an admitted resource's metadata and spec.cancel may still change after its caps were lowered.
The module applies the policies and their parameters (an AdmissionLimits object) once and
removes them at its end (a test that lowers a cap puts it back);
test_admission_reinstall_cluster.py runs the remove-and-apply-again cycle through helm itself
(kubernetes/kubernetes#133827 broke it for ConfigMap parameters).

Only the admission objects are applied (``helm template --show-only``), under their own release
name, and removed afterwards; no operator runs, so nothing is rendered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cluster import Cluster
from support.reelkube_cluster import install_crds

pytestmark = [pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "vaptest"
PREFIX = f"{RELEASE}-reelkube"
PROFILE_LABEL = "reelkube.io/admission-profile"


def _render_job(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _apply(cluster: Cluster, obj: dict[str, Any], *, dry_run: bool = True) -> tuple[int, str]:
    args = ["apply", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    proc = cluster.kubectl(*args, input=json.dumps(obj), check=False)
    return proc.returncode, proc.stdout + proc.stderr


LONG = {"timeline": {"duration": 120, "tracks": [{"clips": [{"type": "color", "color": "#000000"}]}]}}
"""Two minutes: within the spec's own output caps, over the ``small`` profile's 60 s."""
GREEDY = {"template": "slideshow", "retries": 9}
STORAGE_ENDPOINT = "http://minio.example:9000"


@pytest.fixture(scope="module")
def policies(cluster: Cluster) -> Iterator[str]:
    """The policies in force for the module's tests (applying them and waiting until they hold
    took 5-6 s of each test's setup when every test applied them again); yields the namespace
    labelled with the profile ``small``."""
    probes = f"probes-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", probes)
    try:
        yield from _applied(cluster, probes)
    finally:
        cluster.kubectl("delete", "namespace", probes, "--wait=false", check=False)


def _render_policies(cluster: Cluster, *sets: str) -> list[dict[str, Any]]:
    args = [
        "--set",
        "admission.profiles.small.allowGpu=false",
        "--set",
        "admission.profiles.small.maxDurationSeconds=60",
    ]
    for item in sets:
        args += ["--set", item]
    rendered = cluster.helm(
        "template", RELEASE, str(ROOT / "charts" / "reelkube"), "--kube-version", "1.35.0",
        "--show-only", "templates/admission-policy.yaml", "--show-only", "templates/admission-storage.yaml",
        "--set", f"storage.endpoint={STORAGE_ENDPOINT}", "--set", "storage.bucket=media",
        "--set", "storage.prefix=out", *args,
    ).stdout  # fmt: skip
    return [d for d in yaml.safe_load_all(rendered) if d]


def _applied(cluster: Cluster, namespace: str) -> Iterator[str]:
    """The admission policies and bindings, applied and removed again; a second namespace,
    labelled with the profile ``small``, is yielded."""
    install_crds(cluster)
    cluster.kubectl("wait", "--for=condition=Established", "crd/admissionlimits.reelkube.io", "--timeout=60s")
    small = f"small-{uuid.uuid4().hex[:6]}"
    # Created with its label in one step: the policies read namespaceObject from a cache that
    # could otherwise hold the namespace without it.
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": small, "labels": {PROFILE_LABEL: "small"}},
        }
    )
    docs = _render_policies(cluster)
    try:
        for doc in docs:
            cluster.apply(doc)
        # A new policy takes effect within seconds: wait for a refusal naming a cap.
        deadline = time.monotonic() + 60
        while "is over the cap" not in _apply(cluster, _render_job("probe", namespace, GREEDY))[1]:
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(0.25)
        # And the profile in the labelled namespace (seen once in CI to lag the default).
        gpu = {"template": "slideshow", "output": {"gpu": True, "maxDurationSeconds": 60}}
        while "is not allowed in this namespace" not in _apply(cluster, _render_job("probe", small, gpu))[1]:
            assert time.monotonic() < deadline, "the profile small never took effect in its namespace"
            time.sleep(0.25)
        yield small
    finally:
        for doc in docs:
            cluster.kubectl("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False)
        cluster.kubectl("delete", "namespace", small, "--wait=false", check=False)


def test_over_a_cap_is_refused_at_apply_naming_the_cap(
    cluster: Cluster, namespace: str, policies: str
) -> None:
    code, out = _apply(cluster, _render_job("greedy", namespace, GREEDY))
    print(out)
    assert code != 0 and "spec.retries 9 is over the cap maxRetries=5" in out
    assert (
        f"(the cluster default: spec.limits of AdmissionLimits {PREFIX}, chart value admission.limits)" in out
    )
    code, out = _apply(
        cluster, _render_job("big", namespace, {"template": "slideshow", "resources": {"memory": "65Gi"}})
    )
    print(out)
    assert code != 0 and "spec.resources.memory 65Gi is over the cap maxMemory=64Gi" in out
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        proc = cluster.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", str(example), check=False)
        assert proc.returncode == 0, f"{example.name}: {proc.stderr}"


def test_a_profile_caps_its_namespace(cluster: Cluster, namespace: str, policies: str) -> None:
    # The small profile caps duration at 60 s, below the CRD's default output cap of 3600 s.
    gpu = {"template": "slideshow", "output": {"gpu": True, "maxDurationSeconds": 60}}
    assert _apply(cluster, _render_job("gpu", namespace, gpu))[0] == 0
    code, out = _apply(cluster, _render_job("gpu", policies, gpu))
    print(out)
    assert code != 0 and "spec.output.gpu is not allowed in this namespace" in out
    assert (
        f"(profile small of namespace {policies}: spec.profiles.small of AdmissionLimits {PREFIX},"
        " chart value admission.profiles.small)"
    ) in out
    assert _apply(cluster, _render_job("long", namespace, LONG))[0] == 0
    code, out = _apply(cluster, _render_job("long", policies, LONG))
    print(out)
    assert code != 0 and "spec.timeline.duration 120s is over the cap maxDurationSeconds=60" in out


def test_spec_storage_outside_the_namespace_area_is_refused_at_apply(
    cluster: Cluster, namespace: str, policies: str
) -> None:
    def with_storage(**storage: str) -> dict[str, Any]:
        chosen = {"bucket": "media", "endpointUrl": STORAGE_ENDPOINT, **storage}
        return _render_job("stored", namespace, {"template": "slideshow", "storage": chosen})

    code, out = _apply(cluster, with_storage(prefix=f"out/{namespace}/campaign"))
    assert code == 0, out
    for storage, message in (
        ({"prefix": "out/another-team"}, "spec.storage.prefix out/another-team is outside"),
        ({"prefix": "out", "bucket": "another-bucket"}, "spec.storage.bucket another-bucket is not allowed"),
        ({"prefix": "out", "credentialsSecret": "borrowed"}, "spec.storage.credentialsSecret is not allowed"),
    ):
        deadline = time.monotonic() + 30  # the storage policy may take effect after the caps'
        while (refused := _apply(cluster, with_storage(**storage)))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
        print(refused[1])
        assert refused[0] != 0 and message in refused[1]
        assert "storage.allowSpecStorage=false" in refused[1] or f"use out/{namespace}/" in refused[1]


def test_the_api_server_type_checks_the_policies_without_warnings(cluster: Cluster, policies: str) -> None:
    for name in (f"{PREFIX}-limits", f"{PREFIX}-render-limits", f"{PREFIX}-storage"):
        deadline = time.monotonic() + 30
        while True:
            status = cluster.kubectl_json("get", "validatingadmissionpolicy", name).get("status", {})
            if "typeChecking" in status or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        print(name, status)
        assert status.get("typeChecking", {}).get("expressionWarnings", []) == []


def test_updates_of_an_admitted_resource_pass_after_the_caps_are_lowered(
    cluster: Cluster, namespace: str, policies: str
) -> None:
    obj = _render_job("admitted", namespace, {"template": "slideshow", "retries": 4})
    code, out = _apply(cluster, obj, dry_run=False)
    assert code == 0, out
    probe = _render_job("probe", namespace, {"template": "slideshow", "retries": 4})
    try:
        for doc in _render_policies(cluster, "admission.limits.maxRetries=3"):
            cluster.apply(doc)
        deadline = time.monotonic() + 60
        while "maxRetries=3" not in _apply(cluster, probe)[1]:
            assert time.monotonic() < deadline, "the lowered cap never took effect"
            time.sleep(0.5)
        # Admitted under the old caps: the operator's finalizers and a tenant's cancel still pass.
        for patch in (
            {"metadata": {"annotations": {"example.com/seen": "yes"}}},
            {"metadata": {"finalizers": ["kopf.zalando.org/KopfFinalizerMarker"]}},
            {"spec": {"cancel": True}},
            {"metadata": {"finalizers": None}},
        ):
            proc = cluster.kubectl(
                "-n", namespace, "patch", "renderjob", "admitted", "--type=merge", "-p", json.dumps(patch),
                check=False,
            )  # fmt: skip
            assert proc.returncode == 0, f"{patch}: {proc.stderr}"
    finally:
        cluster.kubectl("-n", namespace, "delete", "renderjob", "admitted", "--wait=false", check=False)
        # The module's caps back, for any test after this one.
        for doc in _render_policies(cluster):
            cluster.apply(doc)
        deadline = time.monotonic() + 60
        while _apply(cluster, probe)[0] != 0:
            assert time.monotonic() < deadline, "the module's caps did not come back"
            time.sleep(0.5)
