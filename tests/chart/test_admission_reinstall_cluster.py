"""The caps' parameters survive helm uninstall and install: three times in a row, the chart is
uninstalled and at once installed again (its AdmissionLimits object, policies and bindings deleted
and re-created together), and each time a RenderJob over a cap is refused naming it while one
under the caps is admitted. Then a cap changed in the AdmissionLimits object takes effect without
helm, and a cap that is no number is refused by the CRD.

That cycle is what breaks ConfigMap parameters on Kubernetes 1.35 (kubernetes/kubernetes#133827:
the binding stays on "no params found" and refuses every create); the chart's parameters are a
cluster-scoped custom resource (charts/reelkube/crds/admissionlimits.reelkube.io.yaml), whose
informer the API server starts anew for each policy generation.

The release's operator image does not exist (its pods never start): only the admission objects
matter here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cluster import Cluster
from support.reelkube_cluster import install_crds

pytestmark = [pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "vapcycle"
RELEASE_NS = "vapcycle-system"
CYCLES = 3
PARAMS = f"{RELEASE}-reelkube"
"""The release's AdmissionLimits object."""
OVER = "spec.retries 9 is over the cap maxRetries=5"


def _install(cluster: Cluster) -> None:
    cluster.helm(
        "install", RELEASE, str(ROOT / "charts" / "reelkube"), "-n", RELEASE_NS, "--create-namespace",
        "--set", "image.operator.repository=reelkube/not-here", "--set", "image.operator.pullPolicy=Never",
        "--set", "storage.endpoint=http://minio.example:9000",
        "--set", "storage.bucket=media",
    )  # fmt: skip


def _dry_run(cluster: Cluster, namespace: str, retries: int) -> tuple[int, str]:
    obj = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": f"probe-{uuid.uuid4().hex[:6]}", "namespace": namespace},
        "spec": {"template": "slideshow", "retries": retries},
    }
    proc = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(obj), check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _caps_in_force(cluster: Cluster, namespace: str, timeout: float = 30) -> float:
    """Seconds until a RenderJob over a cap is refused naming it and one under it is admitted."""
    started = time.monotonic()
    while True:
        over, under = _dry_run(cluster, namespace, 9), _dry_run(cluster, namespace, 2)
        if over[0] != 0 and OVER in over[1] and under[0] == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"caps not in force {timeout}s after install:\nover: {over[1]}\nunder: {under[1]}")
        time.sleep(0.5)


@pytest.fixture
def no_release(cluster: Cluster) -> Iterator[None]:
    install_crds(cluster)
    cluster.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--ignore-not-found")
    yield
    cluster.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", RELEASE_NS, "--wait=false", "--ignore-not-found", check=False)


def test_the_caps_hold_through_uninstall_and_install_at_once(
    cluster: Cluster, namespace: str, no_release: None
) -> None:
    _install(cluster)
    delays = [_caps_in_force(cluster, namespace)]
    for _ in range(CYCLES):
        cluster.helm("uninstall", RELEASE, "-n", RELEASE_NS)
        _install(cluster)
        delays.append(_caps_in_force(cluster, namespace))
    print(f"caps in force {', '.join(f'{d:.1f}' for d in delays)} s after each install")

    # An administrator's change in place takes effect without helm.
    patch = {"spec": {"limits": {"maxRetries": "1"}}}
    cluster.kubectl("patch", "admissionlimits", PARAMS, "--type=merge", "-p", json.dumps(patch))
    deadline = time.monotonic() + 30
    while (
        "spec.retries 2 is over the cap maxRetries=1" not in (refused := _dry_run(cluster, namespace, 2))[1]
    ):
        assert time.monotonic() < deadline, refused[1]
        time.sleep(0.5)
    bad = {"spec": {"limits": {"maxRetries": "many"}}}
    proc = cluster.kubectl(
        "patch", "admissionlimits", PARAMS, "--type=merge", "-p", json.dumps(bad), check=False
    )
    assert proc.returncode != 0 and "spec.limits.maxRetries" in proc.stderr, proc.stderr
