"""Smoke tests: the offline test cluster does what the operator's tests rely on."""

from __future__ import annotations

import textwrap
import urllib.request
import uuid
from typing import Any

import pytest

from support.cluster import Cluster

pytestmark = pytest.mark.cluster


def pod(name: str, image: str, script: str, **spec: Any) -> dict[str, Any]:
    """A run-once pod that executes a shell script in ``image`` (never pulled)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                    **spec.pop("container", {}),
                }
            ],
            **spec,
        },
    }


def run_to_completion(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> str:
    """Create the pod, wait until it succeeded, return its log."""
    manifest["metadata"]["namespace"] = namespace
    cluster.apply(manifest)
    name = manifest["metadata"]["name"]
    cluster.wait_for_pod_phase(namespace, name, ("Succeeded",), timeout=180)
    return cluster.kubectl("-n", namespace, "logs", name).stdout


def node_of(cluster: Cluster, namespace: str, name: str) -> str:
    return str(cluster.kubectl_json("-n", namespace, "get", "pod", name)["spec"].get("nodeName", ""))


def test_nodes_ready(cluster: Cluster) -> None:
    for node in (cluster.node_name, cluster.gpu_node):
        conditions = cluster.kubectl_json("get", "node", node)["status"]["conditions"]
        ready = next(c for c in conditions if c["type"] == "Ready")
        assert ready["status"] == "True", f"node {node} not Ready: {ready}"
    gpu = cluster.kubectl_json("get", "node", cluster.gpu_node)
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    assert gpu["metadata"]["labels"]["reelkube.io/gpu"] == "true"


def test_pod_runs_to_completion(cluster: Cluster, namespace: str, base_image: str) -> None:
    log = run_to_completion(
        cluster, namespace, pod("hello", base_image, "echo hello from $(hostname); python3 --version")
    )
    assert "hello from hello" in log
    assert "Python 3" in log


def test_pod_reaches_api_through_kubernetes_service(
    cluster: Cluster, namespace: str, base_image: str
) -> None:
    script = textwrap.dedent(
        """
        import json, os, ssl, urllib.request
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ["KUBERNETES_SERVICE_PORT"]
        ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
        token = open(f"{sa}/token").read()
        def get(path):
            req = urllib.request.Request(f"https://{host}:{port}{path}",
                                         headers={"Authorization": f"Bearer {token}"})
            return json.load(urllib.request.urlopen(req, context=ctx, timeout=10))
        print("service", host, port)
        print("version", get("/version")["gitVersion"])
        # An authenticated call: a service account may review its own access.
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        req = urllib.request.Request(
            f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            data=json.dumps(review).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        status = json.load(urllib.request.urlopen(req, context=ctx, timeout=10))["status"]
        print("user", status["userInfo"]["username"])
        """
    )
    log = run_to_completion(cluster, namespace, pod("api", base_image, f"python3 -c '{script}'"))
    assert "service 10.96.0.1 443" in log
    assert "version v1.35." in log
    assert f"user system:serviceaccount:{namespace}:default" in log


def test_gpu_pod_lands_on_kwok_node_plain_pod_on_real_node(
    cluster: Cluster, namespace: str, base_image: str
) -> None:
    gpu = pod(
        "gpu",
        base_image,
        "true",
        container={"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    gpu["metadata"]["namespace"] = namespace
    cluster.apply(gpu)
    cluster.wait_for_pod_phase(namespace, "gpu", ("Running", "Succeeded"), timeout=60)
    assert node_of(cluster, namespace, "gpu") == cluster.gpu_node

    run_to_completion(cluster, namespace, pod("plain", base_image, "true"))
    assert node_of(cluster, namespace, "plain") == cluster.node_name


def test_s3_reachable_from_pod(cluster: Cluster, namespace: str, base_image: str) -> None:
    bucket = f"smoke-{uuid.uuid4().hex[:8]}"
    # moto accepts unsigned requests: create a bucket from the host, list it from a pod.
    urllib.request.urlopen(
        urllib.request.Request(f"{cluster.s3_host_endpoint}/{bucket}", method="PUT"), timeout=10
    )
    script = (
        "import urllib.request; "
        f"print(urllib.request.urlopen('{cluster.s3_endpoint}/', timeout=10).read().decode())"
    )
    log = run_to_completion(cluster, namespace, pod("s3", base_image, f'python3 -c "{script}"'))
    assert f"<Name>{bucket}</Name>" in log
