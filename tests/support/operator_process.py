"""The operator as a process of its own on this machine, against the test cluster: the same
handlers the chart's pod runs (``kopf run -m reelkube.controller.handlers``), started and
stopped, or killed with SIGKILL, by a test or a benchmark.

A process rather than kopf's in-process runner when a test must kill the operator for real: the
runner's threads (webhook deliveries among them) would outlive a stopped runner in the test's
own process, and a restart would then meet its predecessor's work still going on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.cluster import Cluster
from support.reelkube_cluster import KWOK_SELECTOR, KWOK_TOLERATIONS


def operator_env(
    cluster: Cluster, namespaces: tuple[str, ...], *, placement: str, **env: str
) -> dict[str, str]:
    """The environment the chart would give the operator, for ``namespaces``. ``placement``:
    ``kwok`` (render pods on the fake node, which completes them at once), ``nowhere`` (pods
    stay Pending) or ``cluster`` (the scheduler places them on the real node)."""
    environ = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "REELKUBE_METRICS_PORT": "0",
        "REELKUBE_WATCH_NAMESPACES": ",".join(namespaces),
        "REELKUBE_RENDERER_IMAGE": cluster.renderer_image,
        "REELKUBE_IMAGE_PULL_POLICY": "Never",
    }
    if placement == "kwok":
        environ["REELKUBE_JOB_NODE_SELECTOR"] = json.dumps(KWOK_SELECTOR)
        environ["REELKUBE_JOB_TOLERATIONS"] = json.dumps(KWOK_TOLERATIONS)
    elif placement == "nowhere":
        environ["REELKUBE_JOB_NODE_SELECTOR"] = json.dumps({"reelkube.io/no-such-node": "true"})
    else:
        assert placement == "cluster", placement
    return {**environ, **env}


class OperatorProcess:
    """One running operator; ``log`` is where its output goes."""

    def __init__(self, environ: dict[str, str], namespaces: tuple[str, ...], log: Path) -> None:
        self.log = log
        watched = [arg for name in namespaces for arg in ("--namespace", name)]
        args = [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "--standalone",
            *watched,
            "-m",
            "reelkube.controller.handlers",
        ]
        self._out = log.open("ab")
        self.process = subprocess.Popen(args, env=environ, stdout=self._out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: nothing of it runs on, nothing is flushed or finished."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._out.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._out.close()

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextmanager
def operator_process(
    cluster: Cluster, namespaces: tuple[str, ...], log: Path, *, placement: str = "kwok", **env: str
) -> Iterator[OperatorProcess]:
    """An operator watching ``namespaces`` for the block's duration (stopped at its end, unless
    the block killed it)."""
    running = OperatorProcess(operator_env(cluster, namespaces, placement=placement, **env), namespaces, log)
    try:
        yield running
    finally:
        running.stop()
