"""A node to lose: a kwok node run by a kwok process of the chaos run's own, on which pods stay
Running until the node is deleted.

The cluster's kwok (tests/cluster/up.sh) runs kwokctl's fast stages, in which a pod owned by a
Job completes the moment it runs: a render placed there would "succeed" before a node could be
lost under it. This second kwok manages only nodes annotated ``kwok.x-k8s.io/node=chaos`` and
runs the same stages without ``pod-complete``, so its pods are Running (as far as the API
server knows) until the node goes. It is started and stopped by the run, by its pid; the
cluster's own kwok and its nodes are left alone.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from support.cluster import Cluster
from support.network import free_port

ANNOTATION = ("kwok.x-k8s.io/node", "chaos")
"""The annotation this kwok manages nodes by (the cluster's kwok takes ``=fake``)."""
DROPPED_STAGE = "pod-complete"
POD_CIDR = "10.91.0.1/16"
"""Pod addresses kwok hands out on its nodes: apart from the cluster's kwok (10.90.0.0/16)."""


def stages_without_completion(text: str) -> str:
    """The cluster's kwok stages (one YAML document each) without ``pod-complete``, kept as
    written (the stages hold templates that a round trip through a YAML writer could change).
    ValueError when the text has no such stage or no pod-ready stage: then it is not the file
    this run was written for."""
    documents = [d for d in re.split(r"^---[ \t]*$", text, flags=re.M) if d.strip()]
    names = [(yaml.safe_load(d) or {}).get("metadata", {}).get("name") for d in documents]
    if DROPPED_STAGE not in names or "pod-ready" not in names:
        raise ValueError(f"kwok stages {names}: expected pod-ready and {DROPPED_STAGE}")
    kept = [d.strip("\n") + "\n" for d, name in zip(documents, names, strict=True) if name != DROPPED_STAGE]
    return "---\n".join(kept)


def node_manifest(name: str) -> dict[str, Any]:
    """A fake node that takes any pod the real node would (no taint, room for renders)."""
    capacity = {"cpu": "32", "memory": "64Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {ANNOTATION[0]: ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "reelkube.io/chaos": "lost-node",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


class ChaosKwok:
    """The run's own kwok process and the nodes it manages."""

    def __init__(self, cluster: Cluster, work_dir: Path) -> None:
        self.cluster = cluster
        self.work_dir = work_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "chaos-kwok.log"

    def start(self) -> ChaosKwok:
        """Start kwok with the cluster's stages less ``pod-complete`` (read from beside its
        binaries, where tests/cluster/build.sh writes them)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stages = self.work_dir / "chaos-kwok-stages.yaml"
        stages.write_text(
            stages_without_completion((self.cluster.bin_dir.parent / "kwok-stages.yaml").read_text())
        )
        args = [
            str(self.cluster.bin_dir / "kwok"),
            f"--kubeconfig={self.cluster.kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={ANNOTATION[0]}={ANNOTATION[1]}",
            "--node-lease-duration-seconds=40",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.91.0.254",
            # Its own port: the cluster's kwok serves on 10247.
            f"--server-address=127.0.0.1:{free_port()}",
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def add_node(self, name: str, timeout: float = 60) -> None:
        """Create the node and wait until this kwok reports it Ready."""
        self.cluster.apply(node_manifest(name))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the chaos kwok exited ({self.process.returncode}); see {self.log_path}")
            conditions = self.cluster.kubectl_json("get", "node", name)["status"].get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return
            time.sleep(1)
        raise TimeoutError(f"kwok did not make node {name} Ready in {timeout:g} s; see {self.log_path}")

    def delete_node(self, name: str) -> None:
        """Delete the node (its pods stay bound to it until the pod garbage collector acts)."""
        self.cluster.kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")

    def stop(self) -> None:
        """Stop this kwok (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
