"""The pod's progress writer against the real API server while API Priority and Fairness
refuses it (HTTP 429): it spaces its writes out, keeps the refused values, and still lands the
final status once the server lets it.

The refusals are real: a FlowSchema sends this one pod identity's requests to a priority level
with the least concurrency the API server allows and ``Reject`` as its limit response, and a few
threads holding the same token keep that level busy.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from kubernetes.config import incluster_config

from reelkube.api.kinds import RENDER_JOB
from reelkube.api.status import Step
from reelkube.controller.job_manifests import (
    build_role,
    build_role_binding,
    build_service_account,
    child_name,
)
from reelkube.controller.settings import settings_from_env
from reelkube.pipeline import status_reporter
from reelkube.pipeline.pacing import WritePacer
from reelkube.progress_events import ProgressEvent
from support.reelkube_cluster import Cluster, get_resource, install_crds

pytestmark = pytest.mark.cluster

HAMMERS = 8


def closed_priority_level(name: str, account: str, namespace: str) -> list[dict[str, Any]]:
    """A priority level with the least concurrency there is, rejecting what does not fit, and a
    FlowSchema sending every request of ``account`` there (ahead of the built-in schemas)."""
    subject = {"kind": "ServiceAccount", "serviceAccount": {"name": account, "namespace": namespace}}
    return [
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": name},
            "spec": {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 0,
                    "lendablePercent": 0,
                    "borrowingLimitPercent": 0,
                    "limitResponse": {"type": "Reject"},
                },
            },
        },
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "priorityLevelConfiguration": {"name": name},
                "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [subject],
                        "resourceRules": [
                            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}
                        ],
                    }
                ],
            },
        },
    ]


@pytest.fixture
def pod_identity(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """A RenderJob and the identity the operator gives its pod (the builders' SA, Role, binding)."""
    install_crds(cluster)
    cluster.apply(
        {
            "apiVersion": "reelkube.io/v1alpha1",
            "kind": "RenderJob",
            "metadata": {"name": "paced", "namespace": namespace},
            "spec": {"template": "static-ad", "props": {"headline": "Hi"}},
        }
    )
    body = get_resource(cluster, "renderjobs", namespace, "paced")
    assert body is not None
    resource = RENDER_JOB.parse(body)
    settings = settings_from_env({})
    for build in (build_service_account, build_role, build_role_binding):
        cluster.apply(build(resource, settings))
    account = child_name(resource)
    token = cluster.kubectl("-n", namespace, "create", "token", account).stdout.strip()
    return {"account": account, "token": token}


@pytest.fixture
def closed_level(cluster: Cluster, namespace: str, pod_identity: dict[str, Any]) -> Iterator[str]:
    name = f"reelkube-test-{namespace}"
    for manifest in closed_priority_level(name, pod_identity["account"], namespace):
        cluster.apply(manifest)
    yield name
    for kind in ("flowschema", "prioritylevelconfiguration"):
        cluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)


@pytest.fixture
def in_cluster(
    cluster: Cluster, pod_identity: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Make this process look like the render pod: its token and CA files, the service env."""
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    host, port = kubeconfig["server"].removeprefix("https://").rsplit(":", 1)
    token = tmp_path / "token"
    token.write_text(pod_identity["token"])
    monkeypatch.setattr(status_reporter, "TOKEN_PATH", token)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", kubeconfig["certificate-authority"])
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    saved = client.Configuration.get_default_copy()
    yield
    client.Configuration.set_default(saved)  # load_incluster_config replaced the default


def test_progress_writer_backs_off_under_real_throttling_and_lands_the_final_status(
    cluster: Cluster,
    namespace: str,
    pod_identity: dict[str, Any],
    closed_level: str,
    in_cluster: None,
) -> None:
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    url = f"{kubeconfig['server']}/apis/reelkube.io/v1alpha1/namespaces/{namespace}/renderjobs/paced/status"
    ca = ssl.create_default_context(cafile=kubeconfig["certificate-authority"])
    stop = threading.Event()
    hammered: Counter[int] = Counter()

    def hammer() -> None:
        headers = {"Authorization": f"Bearer {pod_identity['token']}"}
        headers["Content-Type"] = "application/merge-patch+json"
        with httpx.Client(verify=ca, headers=headers, timeout=10) as http:
            while not stop.is_set():
                hammered[http.patch(url, content=b'{"status":{"etaSeconds":7}}').status_code] += 1

    write = status_reporter.in_cluster_writer(RENDER_JOB, namespace, "paced")
    assert write is not None
    attempts: list[tuple[float, str]] = []

    def recording(patch: dict[str, Any]) -> None:
        try:
            write(patch)
        except status_reporter.StatusWriteThrottled as exc:
            attempts.append((time.monotonic(), f"429 retry-after={exc.retry_after:g}"))
            raise
        attempts.append((time.monotonic(), "ok"))

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(HAMMERS)]
    for thread in threads:
        thread.start()
    pacer = WritePacer(base=0.2, ceiling=1.6, slow_after=0.5)
    reporter = status_reporter.ProgressReporter(
        RENDER_JOB, recording, label=f"{namespace}/paced", pacer=pacer
    )
    try:
        started = time.monotonic()
        frame = 0
        while time.monotonic() - started < 4.0:
            frame += 1
            reporter(ProgressEvent(step=Step.RENDERING, percent=min(99, frame), frame=frame))
            time.sleep(0.05)
        widest = pacer.interval
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert hammered[429] > hammered[200], hammered  # the level really is full: refusals are real
    refused = [a for a in attempts if a[1].startswith("429")]
    assert refused, attempts
    assert all("retry-after=0" not in outcome for _, outcome in refused), refused  # APF sends one
    # At a steady 0.2 s, 4 s would be about 20 attempts; the doubling leaves a handful.
    assert len(attempts) <= 10, attempts
    assert widest > pacer.base, attempts

    # The level is removed: the final status goes through, with every value refused before.
    cluster.kubectl("delete", "flowschema", closed_level)
    time.sleep(1)
    reporter.close(final={"step": Step.DONE.value, "progress": 100})
    status = (get_resource(cluster, "renderjobs", namespace, "paced") or {}).get("status") or {}
    assert status.get("progress") == 100 and status.get("step") == "done", status
    assert status.get("currentFrame") == frame, status
