"""Smoke tests: the offline test cluster does what the operator's tests rely on."""

from __future__ import annotations

import textwrap
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from support.cluster import Cluster
from support.reelkube_cluster import CREDENTIALS, host_s3_client

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
    # The server verifies signatures: the host writes with the suite's credentials, the pod reads
    # through a URL presigned for the address pods use (the signature covers the host), and the
    # same object without a signature is refused.
    host_s3_client(cluster).create_bucket(Bucket=bucket)
    host_s3_client(cluster).put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from the host")
    pod_side = boto3.client(
        "s3",
        endpoint_url=cluster.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        # SigV4 (boto3 presigns S3 URLs with SigV2 unless told; the server, like S3 today, wants v4).
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    signed = pod_side.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"})
    script = (
        "import urllib.request, urllib.error; "
        f"print(urllib.request.urlopen('{signed}', timeout=10).read().decode())\n"
        "try:\n"
        f"    urllib.request.urlopen('{cluster.s3_endpoint}/{bucket}/hello.txt', timeout=10)\n"
        "except urllib.error.HTTPError as refused:\n"
        "    print('unsigned', refused.code, refused.read().decode())"
    )
    log = run_to_completion(cluster, namespace, pod("s3", base_image, f'python3 -c "{script}"'))
    assert "hello from the host" in log
    assert "unsigned 403" in log and "<Code>AccessDenied</Code>" in log, log
