"""The real single-node test cluster (tests/cluster/up.sh) as the tests see it, and its fixtures.

Every test that uses the cluster is marked ``cluster``; a test that asks for the ``cluster``
fixture without the mark is a collection error. Set ``REELKUBE_SKIP_CLUSTER=1`` to skip them all
(the cluster needs root and a few minutes on a cold machine).

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

cluster         session: the running cluster (started by up.sh, idempotent) and the S3 server;
                a :class:`Cluster`.
kubectl         session: ``kubectl(*args, input=None, check=True)`` against it.
base_image      session: the Debian+python3 base image, loaded into the cluster.
project_images  session: renderer and operator images built and loaded.
namespace       function: a fresh namespace, deleted after the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.secret_audit import order_secret_audit_last

BASE_IMAGE = os.environ.get("REELKUBE_BASE_IMAGE", "reelkube/base:bookworm")
RENDERER_IMAGE = os.environ.get("REELKUBE_RENDERER_IMAGE", "reelkube/renderer:dev")
OPERATOR_IMAGE = os.environ.get("REELKUBE_OPERATOR_IMAGE", "reelkube/operator:dev")
GPU_NODE = "kwok-gpu-0"
SCRIPTS = Path(__file__).resolve().parents[1] / "cluster"
"""tests/cluster: the scripts that build, start and stop the cluster."""
SKIP_ENV = "REELKUBE_SKIP_CLUSTER"


@dataclass(frozen=True)
class Cluster:
    """The running test cluster and the tools and endpoints that go with it."""

    kubeconfig: Path
    bin_dir: Path
    node_name: str
    node_ip: str
    gpu_node: str
    s3_endpoint: str
    """S3 endpoint as pods reach it (the CNI bridge gateway)."""
    s3_host_endpoint: str
    """S3 endpoint as the tests on the host reach it."""
    base_image: str = BASE_IMAGE
    renderer_image: str = RENDERER_IMAGE
    operator_image: str = OPERATOR_IMAGE

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def helm_path(self) -> Path:
        return self.bin_dir / "helm"

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that talk to the cluster (kubectl, helm, kopf)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster; with check, a failure fails the test with its output."""
        return self._run([str(self.kubectl_path), *args], input, check, timeout)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, manifest: dict[str, Any] | str) -> None:
        """kubectl apply a manifest given as a dict or YAML/JSON text."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        self.kubectl("apply", "-f", "-", input=text)

    def helm(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.helm_path), *args], None, check, timeout)

    def _run(
        self, cmd: list[str], input: str | None, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and proc.returncode != 0:
            pytest.fail(
                f"{' '.join(cmd)} failed (exit {proc.returncode})\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}",
                pytrace=False,
            )
        return proc

    def wait_for_pod_phase(
        self, namespace: str, name: str, phases: tuple[str, ...] = ("Succeeded",), timeout: float = 120
    ) -> dict[str, Any]:
        """Wait until the pod reaches one of ``phases``; fail early if it fails instead."""
        deadline = time.monotonic() + timeout
        pod: dict[str, Any] = {}
        while time.monotonic() < deadline:
            pod = self.kubectl_json("-n", namespace, "get", "pod", name)
            phase = pod.get("status", {}).get("phase")
            if phase in phases:
                return pod
            if phase == "Failed":
                break
            time.sleep(0.25)
        describe = self.kubectl("-n", namespace, "describe", "pod", name, check=False).stdout
        logs = self.kubectl("-n", namespace, "logs", name, "--all-containers", check=False)
        pytest.fail(
            f"pod {namespace}/{name} is {pod.get('status', {}).get('phase')}, wanted {phases}\n"
            f"{describe[-4000:]}\n--- logs ---\n{logs.stdout[-2000:]}{logs.stderr[-1000:]}",
            pytrace=False,
        )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the cluster carries the ``cluster`` mark; honour REELKUBE_SKIP_CLUSTER=1.

    Under pytest-xdist (``-n N --dist loadgroup``, as tests/run-all.sh runs) every cluster test
    is in one group, so they run one after the other in one worker (they share one cluster, one
    operator release and its cluster-wide objects) while the other workers run the rest."""
    unmarked = [
        item.nodeid
        for item in items
        if "cluster" in getattr(item, "fixturenames", ()) and item.get_closest_marker("cluster") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the cluster fixture but are not marked cluster "
            f"(add pytestmark = pytest.mark.cluster): {', '.join(unmarked)}"
        )
    for item in items:
        if item.get_closest_marker("cluster") is not None:
            item.add_marker(pytest.mark.xdist_group(CLUSTER_GROUP))
    # The secret audit searches what every cluster test before it wrote: it runs last, and its
    # capture starts at the first cluster test.
    order_secret_audit_last(config, items, capture=os.environ.get(SKIP_ENV) != "1")
    if os.environ.get(SKIP_ENV) != "1":
        return
    skip = pytest.mark.skip(reason=f"{SKIP_ENV}=1: cluster tests skipped")
    for item in items:
        if item.get_closest_marker("cluster") is not None:
            item.add_marker(skip)


CLUSTER_GROUP = "cluster"
"""The pytest-xdist group of every cluster test."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a cluster test that runs in a second xdist worker: the group did not hold them in one
    (pytest 9.2.0 with pytest-xdist 3.8 does that), and two workers would share one operator
    release and one cluster at the same time, failing far from the cause."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    workerinput = getattr(item.config, "workerinput", None)
    if item.get_closest_marker("cluster") is None or worker is None or workerinput is None:
        return
    claim = Path("/tmp") / f"reelkube-cluster-worker-{workerinput['testrunuid']}"
    try:
        fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        owner = claim.read_text().strip()
        if owner and owner != worker:
            pytest.fail(
                f"cluster tests run in workers {owner} and {worker}: the xdist group {CLUSTER_GROUP!r} "
                "did not keep them in one (pytest and pytest-xdist versions? see pyproject.toml)",
                pytrace=False,
            )
        return
    with os.fdopen(fd, "w") as out:
        out.write(worker)


def run_script(*args: str, timeout: float) -> str:
    """Run a tests/cluster script; on failure show its output in the test report."""
    argv = [str(SCRIPTS / args[0]), *args[1:]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
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
    out = run_script("up.sh", timeout=3600).strip().splitlines()
    if not out or not out[-1].startswith("export KUBECONFIG="):
        pytest.fail(f"up.sh did not end with 'export KUBECONFIG=...': {out[-3:]}", pytrace=False)
    kubeconfig = Path(out[-1].split("=", 1)[1])
    bin_dir = Path(run_script("build.sh", "--print-bin-dir", timeout=60).strip())
    s3_endpoint = run_script("s3.sh", "start", timeout=600).strip().splitlines()[-1]
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
    run_script("images.sh", "base", timeout=3600)
    return cluster.base_image


@pytest.fixture(scope="session")
def project_images(cluster: Cluster) -> dict[str, str]:
    """Build the renderer and operator images (docker cache makes reruns fast) and load them."""
    run_script("images.sh", "renderer", "operator", timeout=3600)
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
        time.sleep(0.1)  # the controller-manager makes it within a second
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
