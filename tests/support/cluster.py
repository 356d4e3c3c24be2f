"""The running test cluster as the cluster tests see it (used by conftest.py and tests)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BASE_IMAGE = os.environ.get("REELKUBE_BASE_IMAGE", "reelkube/base:bookworm")
RENDERER_IMAGE = os.environ.get("REELKUBE_RENDERER_IMAGE", "reelkube/renderer:dev")
OPERATOR_IMAGE = os.environ.get("REELKUBE_OPERATOR_IMAGE", "reelkube/operator:dev")
GPU_NODE = "kwok-gpu-0"


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
            time.sleep(1)
        describe = self.kubectl("-n", namespace, "describe", "pod", name, check=False).stdout
        logs = self.kubectl("-n", namespace, "logs", name, "--all-containers", check=False)
        pytest.fail(
            f"pod {namespace}/{name} is {pod.get('status', {}).get('phase')}, wanted {phases}\n"
            f"{describe[-4000:]}\n--- logs ---\n{logs.stdout[-2000:]}{logs.stderr[-1000:]}",
            pytrace=False,
        )
