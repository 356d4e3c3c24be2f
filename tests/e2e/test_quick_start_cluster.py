"""The README's cluster quick start, run as written on the project's cluster: three commands after
the images are loaded, with the chart's embedded storage (no S3 endpoint configured anywhere).

    helm install reelkube charts/reelkube --wait
    kubectl apply -f examples/captioned-reel.yaml
    reelkube submit examples/static-ad.yaml --wait --download out

They run as plain commands in a fresh namespace that the kubeconfig's context names (as a user's
current namespace), with helm, kubectl and reelkube found on PATH. Two things are this cluster's,
not the quick start's: it has no volume provisioner, so the test makes the PersistentVolume a
default StorageClass would make (a hostPath folder), and its node has 2 cores, so the release is
given render pods that fit (the only ``--set``s). No pod here has cluster DNS: the operator hands
render pods the storage Service's ClusterIP.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.cluster import Cluster, run_script
from support.reelkube_cluster import ROOT, phase_is, wait_for_resource

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

RELEASE = "reelkube"
STORAGE_SERVICE = "reelkube-storage"
STORAGE_BUCKET = "reelkube"
# What a 2-core node can schedule beside the operator and the storage (the chart's defaults ask
# for 2 CPUs and 10 GiB of scratch per render, sized for real nodes).
NODE_SIZES = [
    "--set-string", "jobs.defaultResources.renderJob.cpu=1500m",
    "--set", "jobs.defaultResources.renderJob.ephemeralStorage=2Gi",
    "--set-string", "jobs.defaultResources.ttsJob.cpu=1",
    "--set", "jobs.defaultResources.ttsJob.ephemeralStorage=1Gi",
]  # fmt: skip


@dataclass(frozen=True)
class QuickStart:
    """Where the quick start runs: its namespace, a kubeconfig whose context names it, the
    environment the commands get, and the folder behind the storage's volume."""

    namespace: str
    env: dict[str, str]
    volume_dir: Path


def reelkube_releases(cluster: Cluster) -> list[tuple[str, str]]:
    """(name, namespace) of every release of the reelkube chart."""
    listed = json.loads(cluster.helm("list", "-A", "-o", "json").stdout or "[]")
    return [(r["name"], r["namespace"]) for r in listed if str(r.get("chart", "")).startswith("reelkube-")]


def storage_volume(name: str, namespace: str, folder: Path) -> dict[str, Any]:
    """The PersistentVolume a provisioner would make for the storage's claim: a hostPath folder
    bound to exactly that claim."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"reelkube.io/test": "quick-start"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(folder), "type": "Directory"},
            "claimRef": {"namespace": namespace, "name": STORAGE_SERVICE},
        },
    }


@pytest.fixture(scope="module")
def quick_start(
    cluster: Cluster, project_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QuickStart]:
    run_script("images.sh", "storage", timeout=1800)  # reelkube/storage:dev, beside the other two
    # One operator per cluster: a release left by another module would reconcile here too, and own
    # the cluster-wide objects of the name the README uses.
    for name, namespace in reelkube_releases(cluster):
        cluster.helm("uninstall", name, "-n", namespace, "--wait", timeout=300)
    namespace = f"qs-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    base = tmp_path_factory.mktemp("quick-start")
    kubeconfig = base / "kubeconfig"
    shutil.copy(cluster.kubeconfig, kubeconfig)
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        # helm and kubectl of the cluster build, reelkube of this interpreter's environment.
        "PATH": os.pathsep.join([str(cluster.bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    subprocess.run(
        ["kubectl", "config", "set-context", "--current", f"--namespace={namespace}"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    volume_dir = base / "volume"
    volume_dir.mkdir()
    volume_dir.chmod(0o777)  # hostPath ignores fsGroup; the server runs as uid 65532
    volume = storage_volume(f"{namespace}-storage", namespace, volume_dir)
    cluster.apply(volume)
    try:
        yield QuickStart(namespace, env, volume_dir)
    finally:
        for what in ("deploy/reelkube", f"deploy/{STORAGE_SERVICE}"):
            logs = cluster.kubectl("-n", namespace, "logs", what, "--tail=100", check=False)
            print(f"--- {what} (tail) ---\n{logs.stdout}{logs.stderr}")
        cluster.helm("uninstall", RELEASE, "-n", namespace, "--wait", check=False, timeout=300)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.kubectl("delete", "pv", volume["metadata"]["name"], "--wait=false", check=False)


def run(quick_start: QuickStart, *command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """One quick-start command, from the repository root, as a user would type it."""
    started = time.monotonic()
    proc = subprocess.run(
        command, cwd=ROOT, env=quick_start.env, capture_output=True, text=True, timeout=timeout
    )
    took = time.monotonic() - started
    print(f"$ {' '.join(command)}  -> exit {proc.returncode} in {took:.1f} s")
    print(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_readme_quick_start_renders_into_the_embedded_storage(
    cluster: Cluster, quick_start: QuickStart, tmp_path: Path
) -> None:
    ns = quick_start.namespace
    install = run(quick_start, "helm", "install", RELEASE, "charts/reelkube", "--wait", "--timeout", "5m",
                  *NODE_SIZES, timeout=400)  # fmt: skip
    assert install.returncode == 0

    # The chart ran its storage: a ClusterIP Service on 9000 in front of a ready pod, on the claim.
    service = cluster.kubectl_json("-n", ns, "get", "service", STORAGE_SERVICE)
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "storage"
    assert service["spec"]["ports"][0]["port"] == 9000
    cluster_ip = service["spec"]["clusterIP"]
    claim = cluster.kubectl_json("-n", ns, "get", "pvc", STORAGE_SERVICE)
    assert claim["status"]["phase"] == "Bound"

    applied = run(quick_start, "kubectl", "apply", "-f", "examples/captioned-reel.yaml", timeout=60)
    assert applied.returncode == 0 and "captioned-reel-example" in applied.stdout

    out = tmp_path / "out"
    submitted = run(
        quick_start, "reelkube", "submit", "examples/static-ad.yaml", "--wait", "--download", str(out),
        "--timeout", "10m", timeout=700,
    )  # fmt: skip
    assert submitted.returncode == 0

    static_ad = cluster.kubectl_json("-n", ns, "get", "renderjobs.reelkube.io", "static-ad-example")
    outputs = static_ad["status"]["outputs"]
    assert outputs, static_ad["status"]
    downloaded = {sha256_of(p) for p in out.rglob("*") if p.is_file()}
    assert {o["sha256"] for o in outputs.values()} <= downloaded

    # The kubectl-applied reel rendered too, and each output is a file on the storage's volume.
    reel = wait_for_resource(
        cluster, "renderjobs", ns, "captioned-reel-example", phase_is("Succeeded", "Failed"), timeout=600
    )
    assert reel["status"]["phase"] == "Succeeded", yaml.safe_dump(reel["status"])
    stored = quick_start.volume_dir / "s3" / "buckets" / STORAGE_BUCKET
    for output in [*outputs.values(), *reel["status"]["outputs"].values()]:
        bucket, key = output["uri"].removeprefix("s3://").split("/", 1)
        assert bucket == STORAGE_BUCKET
        assert sha256_of(stored / key) == output["sha256"]
        # Presigned against the Service's ClusterIP (pods have no DNS here), and verified by the
        # server: this host reaches ClusterIPs through kube-proxy's rules, as the node does.
        url = output["url"]
        assert url.startswith(f"http://{cluster_ip}:9000/{STORAGE_BUCKET}/")
        fetched = httpx.get(url, timeout=30)
        assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == output["sha256"]
        forged = httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=30)
        assert forged.status_code == 403 and "SignatureDoesNotMatch" in forged.text

    # The keys are the chart's generated Secret, which a wrong key cannot stand in for.
    secret = cluster.kubectl_json("-n", ns, "get", "secret", f"{STORAGE_SERVICE}-credentials")
    assert set(secret["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    unsigned = httpx.get(f"http://{cluster_ip}:9000/{STORAGE_BUCKET}/", timeout=30)
    assert unsigned.status_code == 403
