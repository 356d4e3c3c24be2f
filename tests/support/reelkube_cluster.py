"""Reelkube in the test cluster: CRDs, the chart release, and waiting on its resources.

Shared by the operator's cluster tests and the end-to-end tests (and the operator benches). The
cluster itself and its fixtures (``cluster``, ``kubectl``, ``project_images``, ``namespace``) are
in support.cluster.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_TESTS = ROOT / "tests" / "cluster"
KWOK_SELECTOR = {"type": "kwok"}
KWOK_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]

RELEASE = "reelkube"
SYSTEM_NS = "reelkube-system"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "reelkube-e2e", "AWS_SECRET_ACCESS_KEY": "reelkube-e2e-secret"}

__all__ = ["Cluster"]


def connect_cluster() -> Cluster:
    """The running cluster outside pytest (for the benchmark): start it and the S3 server if
    needed, exactly as the ``cluster`` fixture does."""
    import subprocess

    def script(*args: str) -> str:
        return subprocess.run(
            [str(CLUSTER_TESTS / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            timeout=3600,
        ).stdout

    kubeconfig = Path(script("up.sh").strip().splitlines()[-1].split("=", 1)[1])
    bin_dir = Path(script("build.sh", "--print-bin-dir").strip())
    s3_endpoint = script("s3.sh", "start").strip().splitlines()[-1]
    host_endpoint = f"http://127.0.0.1:{s3_endpoint.rsplit(':', 1)[1]}"
    probe = Cluster(kubeconfig, bin_dir, "", "", "kwok-gpu-0", s3_endpoint, host_endpoint)
    node = probe.kubectl_json("get", "nodes", "-l", "reelkube.io/node=real")["items"][0]
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    return Cluster(
        kubeconfig, bin_dir, node["metadata"]["name"], node_ip, "kwok-gpu-0", s3_endpoint, host_endpoint
    )


def build_project_images() -> None:
    """Build and load the renderer and operator images (cached layers make reruns fast)."""
    import subprocess

    subprocess.run([str(CLUSTER_TESTS / "images.sh"), "renderer", "operator"], check=True, timeout=3600)


def install_crds(cluster: Cluster) -> None:
    """Apply the CRDs (server-side, idempotent) and wait until they are served."""
    import yaml

    # Applied as JSON: kubectl's YAML 1.1 reading turns a bare `y:` key (Box.y) into `true`.
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = json.dumps(yaml.safe_load(path.read_text()))
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=crd)
    for plural in ("renderjobs", "ttsjobs", "admissionlimits"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{plural}.reelkube.io", "--timeout=60s")


def ensure_kwok_ephemeral_storage(cluster: Cluster) -> None:
    """Give the fake kwok node ephemeral-storage capacity (render pods request it).

    Additive and idempotent; without it the scheduler finds 0 ephemeral storage on the node.
    """
    node = cluster.kubectl_json("get", "node", cluster.gpu_node)
    if "ephemeral-storage" in node["status"].get("allocatable", {}):
        return
    patch = {
        "status": {"capacity": {"ephemeral-storage": "1Ti"}, "allocatable": {"ephemeral-storage": "1Ti"}}
    }
    cluster.kubectl(
        "patch", "node", cluster.gpu_node, "--subresource=status", "--type=merge", "-p", json.dumps(patch)
    )


def get_resource(cluster: Cluster, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("-n", namespace, "get", f"{plural}.reelkube.io", name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def wait_for_resource(
    cluster: Cluster,
    plural: str,
    namespace: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 120,
    interval: float = 0.5,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Poll the resource until ``until(body)``; every status seen is appended to ``seen``."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        body = get_resource(cluster, plural, namespace, name)
        if body is not None:
            if seen is not None:
                seen.append(body.get("status") or {})
            if until(body):
                return body
        time.sleep(interval)
    events = cluster.kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout
    pods = cluster.kubectl("-n", namespace, "get", "pods,jobs", "-o", "wide", check=False).stdout
    pytest.fail(
        f"{plural} {namespace}/{name} did not reach the wanted state in {timeout}s; "
        f"last status: {json.dumps((body or {}).get('status'), indent=1)[-3000:]}\n{pods}\n{events[-3000:]}",
        pytrace=False,
    )


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: (body.get("status") or {}).get("phase") in phases


def managed_jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return list(
        cluster.kubectl_json("-n", namespace, "get", "jobs", "-l", "app.kubernetes.io/managed-by=reelkube")[
            "items"
        ]
    )


def split_image(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    return repository, tag


def cluster_cidrs() -> list[str]:
    """The test cluster's pod and Service ranges, as tests/cluster/lib.sh sets them up."""
    lib = (CLUSTER_TESTS / "lib.sh").read_text()
    ranges = [re.search(rf'^{name}="([^"]+)"', lib, re.M) for name in ("POD_CIDR", "SERVICE_CIDR")]
    assert all(ranges), "tests/cluster/lib.sh names no POD_CIDR or SERVICE_CIDR"
    return [match.group(1) for match in ranges if match]


def input_sets(cluster: Cluster) -> dict[str, str]:
    """The chart's inputs.* for the test cluster: its ranges refused as cluster ranges, and only
    the test S3 server (at the CNI bridge gateway, a private address) allowed, so render pods
    can fetch the presigned inputs the tests upload and nothing else private."""
    s3_host = urlsplit(cluster.s3_endpoint).hostname or ""
    return {
        "inputs.allowedCIDRs": "{" + f"{s3_host}/32" + "}",
        "inputs.clusterCIDRs": "{" + ",".join(cluster_cidrs()) + "}",
    }


def create_storage_secret(cluster: Cluster, namespace: str) -> None:
    """The Secret ``reelkube-s3`` in ``namespace``: the cluster S3 server's key pair, as the
    render pods of a release (or an operator process) read it."""
    literals = [f"--from-literal={k}={v}" for k, v in CREDENTIALS.items()]
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "reelkube-s3", *literals)


def install_release(cluster: Cluster, bucket: str, *extra: str) -> None:
    """helm upgrade --install the chart with the local images and the test S3 server (the one
    private address inputs may reach: :func:`input_sets`)."""
    operator_repo, operator_tag = split_image(cluster.operator_image)
    renderer_repo, renderer_tag = split_image(cluster.renderer_image)
    sets = {
        "image.operator.repository": operator_repo,
        "image.operator.tag": operator_tag,
        "image.operator.pullPolicy": "Never",
        "image.renderer.repository": renderer_repo,
        "image.renderer.tag": renderer_tag,
        "image.renderer.pullPolicy": "Never",
        "storage.endpoint": cluster.s3_endpoint,
        "storage.bucket": bucket,
        "storage.prefix": "e2e",
        "storage.credentialsSecret": "reelkube-s3",
        # The test node has 2 cores: one render at a time, with room for the operator.
        "jobs.defaultResources.renderJob.cpu": "1500m",
        "jobs.defaultResources.renderJob.memory": "2Gi",
        "jobs.defaultResources.renderJob.ephemeralStorage": "2Gi",
        "jobs.defaultResources.ttsJob.cpu": "1",
        "jobs.defaultResources.ttsJob.memory": "1Gi",
        "jobs.defaultResources.ttsJob.ephemeralStorage": "1Gi",
        "jobs.terminationGracePeriodSeconds": "10",
        "operator.logLevel": "INFO",
        # The tests upload their inputs to this bucket (outside any namespace's area).
        "inputs.s3ReadPrefixes": "{" + bucket + "}",
        **input_sets(cluster),
    }
    args = [
        "upgrade",
        "--install",
        RELEASE,
        str(ROOT / "charts" / "reelkube"),
        "-n",
        SYSTEM_NS,
        "--create-namespace",
    ]
    for key, value in sets.items():
        args += ["--set-string" if key.endswith(("tag", "cpu")) else "--set", f"{key}={value}"]
    cluster.helm(*args, *extra, "--wait", "--timeout", "5m", timeout=400)
    # An upgrade (a release left by an earlier run, or a test's second install) returns while
    # the old replica may still hold the Lease with the old settings.
    wait_for_operator_rollout(cluster)


def wait_for_operator_rollout(cluster: Cluster, timeout: float = 300) -> None:
    """Wait until the release's operator has rolled out and no pod of an older revision is left
    (helm's --wait returns while the old pod, with the old settings, may still reconcile)."""
    cluster.kubectl(
        "-n", SYSTEM_NS, "rollout", "status", f"deployment/{RELEASE}", f"--timeout={int(timeout)}s",
        timeout=timeout + 30,
    )  # fmt: skip
    wait_for_operator_pods(cluster, lambda pods: len({revision(p) for p in pods}) <= 1, timeout)


OPERATOR_SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=reelkube"
"""The chart-installed operator's pods in SYSTEM_NS."""
STOPPED_AFTER_SECONDS = 1.0
"""How long after its delete an operator pod has certainly stopped operating (measured: its
Lease released and kopf's cleanup done 40 ms after SIGTERM)."""


def revision(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("labels", {}).get("pod-template-hash"))


def wait_for_operator_pods(
    cluster: Cluster, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 300
) -> None:
    """Poll the release's operator pods until ``done(pods)`` holds and none is terminating.

    An operator pod stays for its whole 30 s grace period after SIGTERM, although it released its
    Lease and finished kopf's cleanup 40 ms after the signal (seen in its log): something keeps
    the process alive until the SIGKILL. A pod that has been terminating for
    STOPPED_AFTER_SECONDS is therefore force-deleted (its API object goes; the kubelet ends the
    idle process at the end of its grace period), which saves each module that installs a
    release after another about 25 s.
    """
    deadline = time.monotonic() + timeout
    first_seen: dict[str, float] = {}
    while True:
        pods = cluster.kubectl_json("-n", SYSTEM_NS, "get", "pods", "-l", OPERATOR_SELECTOR)["items"]
        leaving = [p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp")]
        if not leaving and done(pods):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"operator pods still there after {timeout}s: {[p['metadata']['name'] for p in pods]}"
            )
        now = time.monotonic()
        stopped = [
            name for name in leaving if now - first_seen.setdefault(name, now) >= STOPPED_AFTER_SECONDS
        ]
        if stopped:
            cluster.kubectl(
                "-n", SYSTEM_NS, "delete", "pod", *stopped, "--grace-period=0", "--force", "--wait=false",
                "--ignore-not-found", check=False,
            )  # fmt: skip
        time.sleep(0.3)


def host_s3_client(cluster: Cluster) -> Any:
    """A boto3 client for the cluster's S3 server as the host reaches it, with the credentials the
    render pods get (path-style, as the test server needs)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=cluster.s3_host_endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def new_bucket(cluster: Cluster, prefix: str, uploads: Mapping[str, Path] | None = None) -> str:
    """A fresh bucket named ``prefix-<random>`` on the cluster's S3 server, holding ``uploads``
    (key -> local file)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client = host_s3_client(cluster)
    client.create_bucket(Bucket=name)
    for key, path in (uploads or {}).items():
        client.upload_file(str(path), name, key)
    return name


@contextmanager
def operator_release(cluster: Cluster, bucket: str, *extra: str) -> Iterator[None]:
    """The chart-installed operator for one module's tests (``extra``: more helm arguments).

    Afterwards the operator's log tail is printed (pytest shows it when a test failed) and the
    release is uninstalled: the next module installs its own, and two would both reconcile.
    """
    install_crds(cluster)  # helm installs CRDs once and never upgrades them
    install_release(cluster, bucket, *extra)
    try:
        yield
    finally:
        logs = cluster.kubectl("-n", SYSTEM_NS, "logs", f"deploy/{RELEASE}", "--tail=200", check=False).stdout
        print("--- operator log (tail) ---\n" + logs)
        uninstall_release(cluster)


def uninstall_release(cluster: Cluster, *, check: bool = False) -> None:
    """helm uninstall the release and wait until its operator pods are gone (see
    :func:`wait_for_operator_pods`): the next module's operator, a release or a process on this
    machine, starts with no other one left. helm's --wait does not wait for the pods."""
    cluster.helm("uninstall", RELEASE, "-n", SYSTEM_NS, "--wait", check=check, timeout=300)
    wait_for_operator_pods(cluster, lambda pods: not pods, timeout=120)


@contextmanager
def tenant_namespace(cluster: Cluster, prefix: str) -> Iterator[str]:
    """A fresh namespace ``prefix-<random>`` holding the storage Secret its render pods read;
    deleted afterwards (without waiting)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    create_storage_secret(cluster, name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def delete_pod_and_read_exit_code(cluster: Cluster, namespace: str, pod: str, timeout: float = 90) -> str:
    """Delete ``pod`` and return its container's exit code ("" when none was seen).

    Read from a watch started before the delete: once the pod has ended, the Job controller
    lets the object go within about a second, too soon for polling to see how it ended.
    """
    state = "{.status.containerStatuses[0].state.terminated.exitCode}"
    watch = subprocess.Popen(
        [
            str(cluster.kubectl_path),
            "-n",
            namespace,
            "get",
            "pod",
            pod,
            "-w",
            "-o",
            "jsonpath=" + state + '{"\\n"}',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cluster.env,
    )
    timer = threading.Timer(timeout, watch.kill)
    timer.start()
    try:
        assert watch.stdout is not None
        watch.stdout.readline()  # the pod as it is now: the watch is established
        cluster.kubectl("-n", namespace, "delete", "pod", pod, "--wait=false")
        for line in watch.stdout:
            if line.strip():
                return line.strip()
        return ""
    finally:
        timer.cancel()
        watch.kill()
        watch.wait()
