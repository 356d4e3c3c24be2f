"""On the real cluster: outputs whose URL names a cluster-internal host (a Service's ClusterIP or
DNS name) are downloaded through the API server, and `kubectl reelkube` is found as a kubectl
plugin.

The Service fronts a pod (the base image's python3, which the renderer image is built on) that
serves a file only when the request's Host matches a signature in the query, as S3 checks a
presigned URL's: a forward that lost the original Host would get 403.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.kinds import RENDER_JOB
from reelkube.client import Client, ClientError, Handle, Snapshot
from support.cluster import Cluster

pytestmark = [pytest.mark.cluster]

SERVED = bytes(range(256)) * 8192  # 2 MiB
SERVER = """
import hashlib, http.server
DATA = bytes(range(256)) * 8192
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = self.headers.get("Host", "")
        if "sig=" + hashlib.sha256(host.encode()).hexdigest() not in self.path:
            self.send_error(403, "SignatureDoesNotMatch")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(DATA)))
        self.end_headers()
        self.wfile.write(DATA)
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
"""


def file_server(namespace: str, image: str) -> list[dict[str, Any]]:
    labels = {"app": "files"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "files", "namespace": namespace, "labels": labels},
        "spec": {
            "containers": [
                {
                    "name": "files",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-c", SERVER],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                }
            ]
        },
    }
    # Port 80 of the Service leads to the pod's port by name, which the client must resolve.
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "files", "namespace": namespace},
        "spec": {"selector": labels, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def succeeded_with_outputs(namespace: str, outputs: dict[str, dict[str, Any]]) -> Snapshot:
    body = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "forwarded", "namespace": namespace},
        "status": {"phase": "Succeeded", "outputs": outputs},
    }
    return Snapshot(RENDER_JOB, body)


def signed(host: str, path: str) -> dict[str, Any]:
    return {
        "uri": f"s3://renders{path}",
        "url": f"http://{host}{path}?X-Amz-Expires=60&sig={hashlib.sha256(host.encode()).hexdigest()}",
        "size": len(SERVED),
        "sha256": hashlib.sha256(SERVED).hexdigest(),
    }


def test_outputs_behind_a_cluster_internal_host_come_through_the_api_server(
    cluster: Cluster, base_image: str, namespace: str, tmp_path: Path
) -> None:
    for manifest in file_server(namespace, base_image):
        cluster.apply(manifest)
    cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/files", "--timeout=120s")
    cluster_ip = cluster.kubectl_json("-n", namespace, "get", "service", "files")["spec"]["clusterIP"]
    client = Client.from_kubeconfig(config_file=str(cluster.kubeconfig))
    outputs = {
        "video": signed(cluster_ip, "/a/video.mp4"),
        "thumbnail": signed(f"files.{namespace}.svc", "/b/thumbnail.jpg"),
        "subtitles": signed(f"files.{namespace}.svc.cluster.local:80", "/c/subtitles.srt"),
    }
    handle = Handle(client, succeeded_with_outputs(namespace, outputs))
    started = time.monotonic()
    saved = handle.download(tmp_path / "out")
    print(f"3 x {len(SERVED)} bytes through the API server in {time.monotonic() - started:.2f}s")
    assert {name: path.name for name, path in saved.items()} == {
        "video": "video.mp4", "thumbnail": "thumbnail.jpg", "subtitles": "subtitles.srt",
    }  # fmt: skip
    assert all(path.read_bytes() == SERVED for path in saved.values())

    # A wrong signature is the server's 403, reported per output; a Service that does not exist
    # is named as such.
    forged = {**signed(cluster_ip, "/a/video.mp4"), "url": f"http://{cluster_ip}/a/video.mp4?sig=0"}
    with pytest.raises(ClientError, match="HTTP 403"):
        Handle(client, succeeded_with_outputs(namespace, {"video": forged})).download(tmp_path / "forged")
    missing = signed(f"nothing.{namespace}.svc", "/x/video.mp4")
    with pytest.raises(ClientError, match="no Service of that name"):
        Handle(client, succeeded_with_outputs(namespace, {"video": missing})).download(tmp_path / "missing")


def test_kubectl_finds_the_reelkube_plugin(cluster: Cluster) -> None:
    # pip installs the `kubectl-reelkube` entry point (pyproject [project.scripts]) beside python.
    scripts = Path(sys.executable).parent
    assert (scripts / "kubectl-reelkube").is_file(), "reinstall the package: pip install -e ."
    env = {**cluster.env, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}
    listed = subprocess.run(
        [str(cluster.kubectl_path), "plugin", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert str(scripts / "kubectl-reelkube") in listed.stdout, listed.stdout + listed.stderr
    helped = subprocess.run(
        [str(cluster.kubectl_path), "reelkube", "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    for command in ("submit", "get", "cancel", "logs", "describe", "batch"):
        assert command in helped.stdout, helped.stdout
    # Arguments pass through kubectl unchanged: a command's own help, and a command that works.
    submit_help = subprocess.run(
        [str(cluster.kubectl_path), "reelkube", "submit", "--help"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert submit_help.returncode == 0 and "--no-upload" in submit_help.stdout, submit_help.stderr
    example = Path(__file__).resolve().parents[2] / "examples" / "captioned-reel.yaml"
    validated = subprocess.run(
        [str(cluster.kubectl_path), "reelkube", "validate", str(example)], env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr
