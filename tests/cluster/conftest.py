"""Fixtures for tests against the real single-node cluster (tests/cluster/up.sh).

Every test under tests/cluster is marked ``cluster``. Set ``REELKUBE_SKIP_CLUSTER=1``
to skip them all (the cluster needs root and a few minutes on a cold machine).

Fixtures:
    cluster         session: the running cluster (started by up.sh, idempotent) and
                    the S3 server; a :class:`Cluster`.
    kubectl         session: ``kubectl(*args, input=None, check=True)`` against it.
    base_image      session: the Debian+python3 base image, loaded into the cluster.
    project_images  session: renderer and operator images built and loaded.
    namespace       function: a fresh namespace, deleted after the test.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kube_cluster import GPU_NODE, Cluster

HERE = Path(__file__).resolve().parent
SKIP_ENV = "REELKUBE_SKIP_CLUSTER"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = os.environ.get(SKIP_ENV) == "1"
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.cluster)
        if skip:
            item.add_marker(pytest.mark.skip(reason=f"{SKIP_ENV}=1: cluster tests skipped"))


def _run_script(*args: str, timeout: float) -> str:
    """Run a tests/cluster script; on failure show its output in the test report."""
    proc = subprocess.run([str(HERE / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} failed (exit {proc.returncode})\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}",
            pytrace=False,
        )
    return proc.stdout


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """Start the cluster (a no-op when it runs) and the S3 server."""
    out = _run_script("up.sh", timeout=3600).strip().splitlines()
    if not out or not out[-1].startswith("export KUBECONFIG="):
        pytest.fail(f"up.sh did not end with 'export KUBECONFIG=...': {out[-3:]}", pytrace=False)
    kubeconfig = Path(out[-1].split("=", 1)[1])
    bin_dir = Path(_run_script("build.sh", "--print-bin-dir", timeout=60).strip())
    s3_endpoint = _run_script("s3.sh", "start", timeout=600).strip().splitlines()[-1]
    s3_port = s3_endpoint.rsplit(":", 1)[1]
    probe = Cluster(kubeconfig, bin_dir, "", "", GPU_NODE, s3_endpoint, f"http://127.0.0.1:{s3_port}")
    node = probe.kubectl_json("get", "nodes", "-l", "reelkube.io/node=real")["items"][0]
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    return Cluster(
        kubeconfig=kubeconfig,
        bin_dir=bin_dir,
        node_name=node["metadata"]["name"],
        node_ip=node_ip,
        gpu_node=GPU_NODE,
        s3_endpoint=s3_endpoint,
        s3_host_endpoint=probe.s3_host_endpoint,
    )


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``kubectl(*args, input=None, check=True)`` bound to the test cluster."""
    return cluster.kubectl


@pytest.fixture(scope="session")
def base_image(cluster: Cluster) -> str:
    """The Debian bookworm + python3 base image, present in the cluster's containerd."""
    _run_script("images.sh", "base", timeout=3600)
    return cluster.base_image


@pytest.fixture(scope="session")
def project_images(cluster: Cluster) -> dict[str, str]:
    """Build the renderer and operator images (docker cache makes reruns fast) and load them."""
    _run_script("images.sh", "renderer", "operator", timeout=3600)
    return {"renderer": cluster.renderer_image, "operator": cluster.operator_image}


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace with its default service account ready; deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    deadline = time.monotonic() + 60
    while cluster.kubectl("-n", name, "get", "serviceaccount", "default", check=False).returncode:
        if time.monotonic() > deadline:
            pytest.fail(f"no default service account in namespace {name}", pytrace=False)
        time.sleep(0.5)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
