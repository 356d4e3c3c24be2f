"""Reaching cluster-internal hosts: which hosts count, the Service port → pod port rules, and a
LocalForward carrying a download to a real loopback server that, like a presigned URL's
signature, only answers the original Host. The forward through the API server itself runs in
tests/client/test_client_cluster.py."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.status import OutputArtifact
from reelkube.client import ClientError
from reelkube.client.download import connect_via, download_outputs
from reelkube.client.port_forward import (
    LocalForward,
    forwarded,
    is_cluster_dns_name,
    may_be_cluster_ip,
    ready_pods,
    service_from_dns,
    target_port,
    url_port,
)

DATA = bytes(range(256)) * 2048  # 512 KiB: several chunks through the pipe
HOST = "reelkube-storage.media.svc:9000"


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("reelkube-storage.media.svc", ("reelkube-storage", "media")),
        ("reelkube-storage.media.svc.cluster.local", ("reelkube-storage", "media")),
        ("Storage.Media.SVC.", ("storage", "media")),
        ("media.svc", None),
        ("a.b.c.svc", None),
        ("s3.amazonaws.com", None),
    ],
)
def test_service_dns_names(host: str, service: tuple[str, str] | None) -> None:
    assert service_from_dns(host) == service


def test_which_hosts_may_be_cluster_internal() -> None:
    assert is_cluster_dns_name("x.y.svc") and is_cluster_dns_name("x.y.svc.cluster.local")
    assert not is_cluster_dns_name("svc.example.com")
    assert may_be_cluster_ip("10.96.0.12") and may_be_cluster_ip("fd00::12")
    assert not may_be_cluster_ip("127.0.0.1") and not may_be_cluster_ip("52.216.1.1")
    assert not may_be_cluster_ip("storage.example.com")
    assert url_port("http://a.b.svc/x") == 80 and url_port("https://a/x") == 443
    assert url_port(f"http://{HOST}/x") == 9000


def service(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"ports": list(ports)}}


def pod(name: str = "p", phase: str = "Running", ready: str = "True", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "s3", "ports": [{"name": "api", "containerPort": 9090}]}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
    }


def test_a_service_port_leads_to_the_pods_port() -> None:
    assert target_port(service({"port": 9000, "targetPort": 9100}), 9000, pod()) == 9100
    assert target_port(service({"port": 9000, "targetPort": "api"}), 9000, pod()) == 9090
    assert target_port(service({"port": 9000}), 9000, pod()) == 9000
    assert target_port(service({"port": 9000, "targetPort": "9200"}), 9000, pod()) == 9200
    assert target_port(service({"port": 9000, "targetPort": "nope"}), 9000, pod()) is None
    assert target_port(service({"port": 80}), 9000, pod()) is None


def test_only_ready_running_pods_take_a_forward() -> None:
    pods = [
        pod("new", creationTimestamp="2026-01-02T00:00:00Z"),
        pod("old", creationTimestamp="2026-01-01T00:00:00Z"),
        pod("pending", phase="Pending"),
        pod("unready", ready="False"),
        pod("leaving", deletionTimestamp="2026-01-03T00:00:00Z"),
    ]
    assert [p["metadata"]["name"] for p in ready_pods(pods)] == ["old", "new"]


def test_connect_via_keeps_path_query_and_host() -> None:
    url = f"http://{HOST}/bucket/key/video.mp4?X-Amz-Signature=abc&X-Amz-Expires=60"
    assert connect_via(url, None) == (url, {})
    assert connect_via(url, "http://127.0.0.1:5555") == (
        "http://127.0.0.1:5555/bucket/key/video.mp4?X-Amz-Signature=abc&X-Amz-Expires=60",
        {"Host": HOST},
    )


@contextmanager
def host_bound_server() -> Iterator[tuple[int, list[str]]]:
    """A loopback server that serves DATA only to requests whose Host is HOST (a presigned
    signature covers the host: any other one is refused with 403); the Hosts it saw."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.headers.get("Host", ""))
            if self.headers.get("Host") != HOST or "X-Amz-Signature=abc" not in self.path:
                self.send_error(403, "SignatureDoesNotMatch")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def artifact(host: str) -> OutputArtifact:
    return OutputArtifact(
        uri="s3://renders/reelkube/media/reel-1234abcd/video.mp4",
        url=f"http://{host}/renders/reelkube/media/reel-1234abcd/video.mp4?X-Amz-Signature=abc",
        size=len(DATA),
        sha256=hashlib.sha256(DATA).hexdigest(),
    )


def test_a_download_through_a_forward_sends_the_original_host(tmp_path: Path) -> None:
    with host_bound_server() as (port, seen):
        opened: list[str] = []

        def open_remote() -> socket.socket:
            opened.append("connection")
            return socket.create_connection(("127.0.0.1", port))

        @contextmanager
        def reach(url: str) -> Iterator[str | None]:
            with LocalForward(open_remote) as forward:
                yield forward.base_url

        saved = download_outputs({"video": artifact(HOST)}, tmp_path / "out", reach=reach)
        assert saved["video"].read_bytes() == DATA
        assert seen == [HOST] and opened == ["connection"]

        # The same server asked directly (by its loopback address) refuses: the Host is wrong.
        with pytest.raises(ClientError, match="HTTP 403"):
            download_outputs({"video": artifact(f"127.0.0.1:{port}")}, tmp_path / "direct")


def test_a_forward_whose_remote_cannot_be_opened_fails_the_request_cleanly(tmp_path: Path) -> None:
    def refuse() -> socket.socket:
        raise OSError("the pod is gone")

    @contextmanager
    def reach(url: str) -> Iterator[str | None]:
        with forwarded(refuse, "the port-forward to pod media/s3-0:9000") as base_url:
            yield base_url

    refused = (
        rf"output video: GET {HOST} \(through http://127.0.0.1:\d+\) failed: .*"
        r" \(the port-forward to pod media/s3-0:9000 failed: the pod is gone\)"
    )
    with pytest.raises(ClientError, match=refused):
        download_outputs({"video": artifact(HOST)}, tmp_path / "out", reach=reach)
    assert not list((tmp_path / "out").iterdir())
