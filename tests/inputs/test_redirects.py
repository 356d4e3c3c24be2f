"""Redirects under the cluster policy: each hop checked again, at most five, never to a local file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from reelkube.engine.inputs import download_http
from reelkube.errors import InputForbidden

from .policies import StubResolver, cluster_policy
from .servers import RecordingServer, recording_server


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server({"clip.bin": b"media bytes", "secret": b"root:x:0:0"}) as running:
        yield running


def fetch(url: str, tmp_path: Path, resolver: StubResolver | None = None) -> Path:
    # media.test is the allowed host (resolving to the loopback server); nothing else is allowed.
    policy = cluster_policy(resolver=resolver, allowed_hosts=["media.test"])
    return download_http(
        url, tmp_path / "out.bin", max_bytes=1 << 20, timeout=5, policy=policy, field="spec.src"
    )


def test_redirect_from_an_allowed_host_to_a_denied_one_is_refused(
    server: RecordingServer, tmp_path: Path
) -> None:
    denied = f"http://127.0.0.1:{server.port}/files/secret"
    start = f"http://media.test:{server.port}/redirect?to={quote(denied, safe='')}"
    with pytest.raises(InputForbidden, match=r"^spec\.src: .*loopback") as caught:
        fetch(start, tmp_path)
    assert server.paths == [f"/redirect?to={quote(denied, safe='')}"]  # the second hop never happened
    assert "root:" not in caught.value.message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://2130706433/files/secret", "loopback"),
        ("https://kubernetes.default.svc/api", "private"),
        ("http://localtest.me/files/secret", "loopback"),
        ("file:///etc/passwd", "file"),
        ("ftp://example.com/x", "ftp"),
    ],
)
def test_every_hop_is_checked(target: str, rule: str, server: RecordingServer, tmp_path: Path) -> None:
    start = f"http://media.test:{server.port}/redirect?to={quote(target, safe='')}"
    with pytest.raises(InputForbidden, match=rule):
        fetch(start, tmp_path)
    assert len(server.requests) == 1


def test_relative_redirects_stay_checked_and_dns_is_asked_once_per_hop(
    server: RecordingServer, tmp_path: Path
) -> None:
    resolver = StubResolver()
    path = fetch(f"http://media.test:{server.port}/chain/5", tmp_path, resolver)
    assert path.read_bytes() == b"media bytes"
    assert server.paths == [f"/chain/{n}" for n in (5, 4, 3, 2, 1)] + ["/files/clip.bin"]
    assert resolver.asked == ["media.test"] * 6
    assert {host for _path, host in server.requests} == {f"media.test:{server.port}"}


def test_more_than_five_redirects_are_refused(server: RecordingServer, tmp_path: Path) -> None:
    with pytest.raises(InputForbidden, match="more than 5"):
        fetch(f"http://media.test:{server.port}/chain/6", tmp_path)
    assert len(server.requests) == 6  # the first request and five hops; the sixth is not followed
    assert not list(tmp_path.iterdir())
