"""The kopf handlers against the real cluster, with the operator running in-process (KopfRunner).

Render pods are placed on the fake kwok node (a node selector and toleration from the
operator's settings): kwok runs them to completion instantly, so these tests exercise the
operator's logic (Jobs, status, restarts, the concurrency limit, webhooks, RBAC) without
rendering anything. The end-to-end tests (tests/e2e) render for real.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kopf.testing import KopfRunner
from reelkube_cluster import (
    KWOK_SELECTOR,
    KWOK_TOLERATIONS,
    Cluster,
    ensure_kwok_ephemeral_storage,
    get_resource,
    install_crds,
    managed_jobs,
    phase_is,
    wait_for_resource,
)

from reelkube.controller.builders import CHILD_BUILDERS, build_job, child_name
from reelkube.controller.kinds import RENDER_JOB
from reelkube.controller.settings import settings_from_env

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)


def render_job(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": "static-ad",
            "props": {"headline": "Hi"},
            "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
            **spec,
        },
    }


@contextmanager
def operator(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch, *, placement: str = "kwok", **env: str
) -> Iterator[KopfRunner]:
    """Run the operator in this process, watching ``namespace`` only."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setenv("REELKUBE_METRICS_PORT", "0")
    monkeypatch.setenv("REELKUBE_WATCH_NAMESPACES", namespace)
    monkeypatch.setenv("REELKUBE_RENDERER_IMAGE", cluster.renderer_image)
    monkeypatch.setenv("REELKUBE_IMAGE_PULL_POLICY", "Never")
    if placement == "kwok":
        monkeypatch.setenv("REELKUBE_JOB_NODE_SELECTOR", json.dumps(KWOK_SELECTOR))
        monkeypatch.setenv("REELKUBE_JOB_TOLERATIONS", json.dumps(KWOK_TOLERATIONS))
    else:  # nowhere: pods stay Pending, Jobs stay active
        monkeypatch.setenv("REELKUBE_JOB_NODE_SELECTOR", json.dumps({"reelkube.io/no-such-node": "true"}))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = ["run", "--standalone", "--namespace", namespace, "-m", "reelkube.controller.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        yield runner
    assert runner.exception is None, runner.output[-4000:]


def test_resource_gets_one_job_and_succeeds(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch):
        cluster.apply(render_job("ad", namespace))
        body = wait_for_resource(cluster, "renderjobs", namespace, "ad", phase_is("Succeeded"), timeout=90)
        # Re-applying the unchanged resource does nothing.
        cluster.apply(render_job("ad", namespace))
        time.sleep(3)
    status = body["status"]
    assert status["progress"] == 100 and status["observedGeneration"] == 1
    assert status["completionTime"] and status["jobName"].startswith("rj-ad-")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}
    jobs = managed_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [status["jobName"]]
    uid = body["metadata"]["uid"]
    for kind in ("configmap", "serviceaccount", "role", "rolebinding"):
        child = cluster.kubectl_json("-n", namespace, "get", kind, status["jobName"])
        assert child["metadata"]["ownerReferences"][0]["uid"] == uid
    assert "reelkube.io/last-handled-configuration" in body["metadata"]["annotations"]
    assert not body["metadata"].get("finalizers"), "no finalizers: deletion must not need the operator"


def test_pod_identity_can_patch_only_its_own_status(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere"):
        cluster.apply(render_job("mine", namespace))
        cluster.apply(render_job("other", namespace))
        body = wait_for_resource(
            cluster, "renderjobs", namespace, "mine", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
    account = f"system:serviceaccount:{namespace}:{body['status']['jobName']}"

    def can(verb: str, target: str, *extra: str) -> bool:
        proc = cluster.kubectl(
            "auth", "can-i", verb, target, "-n", namespace, "--as", account, *extra, check=False
        )
        return proc.stdout.strip() == "yes"

    assert can("patch", "renderjobs.reelkube.io/mine", "--subresource=status")
    assert can("get", "renderjobs.reelkube.io/mine", "--subresource=status")
    assert not can("patch", "renderjobs.reelkube.io/other", "--subresource=status")
    assert not can("patch", "renderjobs.reelkube.io/mine")  # the spec stays out of reach
    assert not can("get", "secrets")
    assert not can("create", "pods")


def test_operator_restart_never_makes_a_second_job(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crash right after the Job was created, before anything was written to the status:
    # simulate it by creating the children ourselves while no operator runs.
    cluster.apply(render_job("crashy", namespace))
    body = get_resource(cluster, "renderjobs", namespace, "crashy")
    assert body is not None
    resource = RENDER_JOB.parse(body)
    settings = settings_from_env(
        {
            "REELKUBE_JOB_NODE_SELECTOR": json.dumps(KWOK_SELECTOR),
            "REELKUBE_JOB_TOLERATIONS": json.dumps(KWOK_TOLERATIONS),
            "REELKUBE_RENDERER_IMAGE": cluster.renderer_image,
        }
    )
    for builder in (*CHILD_BUILDERS, build_job):
        cluster.apply(builder(resource, settings))
    with operator(cluster, namespace, monkeypatch):
        wait_for_resource(cluster, "renderjobs", namespace, "crashy", phase_is("Succeeded"), timeout=90)
    with operator(cluster, namespace, monkeypatch):  # and a plain restart afterwards
        time.sleep(5)
    jobs = managed_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [child_name(resource)]


def test_concurrency_limit_queues_then_admits_oldest_first(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere", REELKUBE_MAX_RUNNING_JOBS="1"):
        cluster.apply(render_job("first", namespace))
        wait_for_resource(
            cluster, "renderjobs", namespace, "first", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
        cluster.apply(render_job("second", namespace))
        time.sleep(1)
        cluster.apply(render_job("third", namespace))
        for name in ("second", "third"):
            held = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                name,
                lambda b: (b.get("status") or {}).get("reason") == "ConcurrencyLimit",
            )
            assert held["status"]["phase"] == "Queued" and "jobName" not in held["status"]
            assert "1 of 1" in held["status"]["message"]
        assert len(managed_jobs(cluster, namespace)) == 1
        # Deleting the running one frees the slot: the oldest waiting resource gets it.
        cluster.kubectl("-n", namespace, "delete", "renderjob", "first", "--wait=true")
        wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "second",
            lambda b: bool((b.get("status") or {}).get("jobName")),
            timeout=60,
        )
        time.sleep(3)
        third = get_resource(cluster, "renderjobs", namespace, "third")
        assert third is not None and "jobName" not in third["status"]
        assert (
            len([j for j in managed_jobs(cluster, namespace) if not j["metadata"].get("deletionTimestamp")])
            == 1
        )


def test_unschedulable_pod_is_queued_with_the_reason_and_a_deleted_job_cancels(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere"):
        cluster.apply(render_job("stuck", namespace))
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "stuck",
            lambda b: (b.get("status") or {}).get("reason") == "Unschedulable",
            timeout=60,
        )
        assert body["status"]["phase"] == "Queued"
        assert "node" in body["status"]["message"].lower()
        cluster.kubectl("-n", namespace, "delete", "job", body["status"]["jobName"])
        canceled = wait_for_resource(
            cluster, "renderjobs", namespace, "stuck", phase_is("Canceled"), timeout=60
        )
    assert canceled["status"]["reason"] == "JobDeleted"
    conditions = {c["type"]: c for c in canceled["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Stalled"]["status"] == "True"


def test_webhook_is_delivered_and_recorded(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch, webhook_receiver: Any
) -> None:
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "hook", "--from-literal=secret=s3cr3t")
    webhook = {"url": webhook_receiver.url, "events": ["succeeded"], "secretRef": "hook"}
    with operator(cluster, namespace, monkeypatch):
        cluster.apply(render_job("hooked", namespace, webhook=webhook))
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "hooked",
            lambda b: ((b.get("status") or {}).get("webhook") or {}).get("state") == "Delivered",
            timeout=90,
        )
    assert body["status"]["phase"] == "Succeeded"
    assert body["status"]["webhook"]["event"] == "succeeded" and body["status"]["webhook"]["attempts"] == 1
    from reelkube.webhooks import verify_signature

    requests = webhook_receiver.requests
    assert len(requests) == 1
    request = requests[0]
    assert request.json()["phase"] == "Succeeded" and request.json()["metadata"]["name"] == "hooked"
    assert verify_signature(request.body, b"s3cr3t", request.header("X-Reelkube-Signature"))
