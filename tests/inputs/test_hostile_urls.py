"""Hostile URLs under the cluster policy: each refused with InputForbidden before any connection.

Every loopback spelling points at a real recording server, so "refused" also means "the server
saw no request"; names go through a stub resolver whose answers the test chooses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reelkube.api.common import InputLimits
from reelkube.engine.inputs import download_http, fetch_one
from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy

from .policies import StubResolver, cluster_policy
from .servers import RecordingServer, recording_server

LOOPBACK_SPELLINGS = [
    "127.0.0.1", "127.1", "127.0.1", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "2130706433",
    "017700000001", "127.0.0.1.", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]",
    "[2002:7f00:1::]", "localtest.me", "localtest.me.", "LOCALTEST.ME", "localhost-dns.test",
]  # fmt: skip

# URL -> words the refusal must contain (the rule, never what the target would answer).
HOSTILE = {
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/": "metadata",
    "http://2852039166/latest/meta-data/": "metadata",
    "http://0xa9fea9fe/latest/meta-data/": "metadata",
    "http://0251.0376.0251.0376/": "metadata",
    "http://[::ffff:169.254.169.254]/": "metadata",
    "http://[::ffff:a9fe:a9fe]/": "metadata",
    "http://[64:ff9b::a9fe:a9fe]/": "metadata",
    "http://[fd00:ec2::254]/latest/meta-data/": "metadata",
    "http://metadata.google.internal/computeMetadata/v1/": "metadata",
    "http://metadata6.test/": "metadata",
    "http://100.100.100.200/latest/meta-data/": "metadata",
    "https://kubernetes.default.svc/api/v1/namespaces/default/secrets": "private",
    "https://kubernetes.default.svc.cluster.local./api": "private",
    "http://minio.other-tenant.svc.cluster.local:9000/outputs/x.mp4": "cluster range",
    "http://11.96.0.1/": "cluster range",
    "https://node.test:10250/pods": "private",
    "http://10.0.0.7:10255/stats": "private",
    "http://192.168.1.1/": "private",
    "http://172.16.0.1/": "private",
    "http://[fc00::1]/": "private",
    "http://100.64.0.1/": "CGNAT",
    "http://169.254.1.1/": "link-local",
    "http://[fe80::1]/": "link-local",
    "http://0.0.0.0/": "unspecified",
    "http://0/": "unspecified",
    "http://[::]/": "unspecified",
    "http://224.0.0.1/": "multicast",
    "http://[::1]/": "loopback",
    "http://loopback6.test/": "loopback",
    "http://mixed.test/clip.mp4": "loopback",
    "http://nowhere.test/clip.mp4": "does not resolve",
}


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server({"clip.bin": b"media bytes"}) as running:
        yield running


def refused(url: str, tmp_path: Path, policy: InputPolicy | None = None) -> str:
    with pytest.raises(InputForbidden) as caught:
        download_http(
            url, tmp_path / "out.bin", max_bytes=1 << 20, timeout=5, policy=policy or cluster_policy(),
            field="spec.timeline.tracks[0].clips[0].src",
        )  # fmt: skip
    assert not (tmp_path / "out.bin").exists()
    assert caught.value.reason == "InputForbidden" and caught.value.retryable is False
    return caught.value.message


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_loopback_spelling_is_refused_and_never_contacted(
    host: str, server: RecordingServer, tmp_path: Path
) -> None:
    resolver = StubResolver()
    resolver.answers["localhost-dns.test"] = ["127.0.0.1", "::1"]
    message = refused(
        f"http://{host}:{server.port}/files/clip.bin", tmp_path, cluster_policy(resolver=resolver)
    )
    assert message.startswith("spec.timeline.tracks[0].clips[0].src: ") and "loopback" in message
    assert server.requests == []


@pytest.mark.parametrize(("url", "rule"), sorted(HOSTILE.items()))
def test_hostile_destinations_are_refused_naming_the_rule(url: str, rule: str, tmp_path: Path) -> None:
    assert rule in refused(url, tmp_path)


def test_dns_is_asked_once_per_hop(server: RecordingServer, tmp_path: Path) -> None:
    resolver = StubResolver()
    refused("http://mixed.test/a.mp4", tmp_path, cluster_policy(resolver=resolver))
    assert resolver.asked == ["mixed.test"]


@pytest.mark.parametrize(
    "src",
    ["ftp://example.com/clip.mp4", "gopher://127.0.0.1:70/", "file:///etc/passwd",
     "file:///var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/passwd",
     "/var/run/secrets/kubernetes.io/serviceaccount/token", "~/.kube/config", "dict://127.0.0.1:11211/"],
)  # fmt: skip
def test_local_files_and_other_schemes_are_refused_in_the_cluster(src: str, tmp_path: Path) -> None:
    with pytest.raises(InputForbidden, match=r"^spec\.script: ") as caught:
        fetch_one(
            src, "subtitles", tmp_path, InputLimits(), base_dir=tmp_path, storage=None,
            policy=cluster_policy(asset_dir=tmp_path), field="spec.script",
        )  # fmt: skip
    assert "root:" not in caught.value.message  # the refusal never carries what the file holds
    assert not (tmp_path / "inputs").exists()


def test_unknown_schemes_are_refused_locally_too(tmp_path: Path) -> None:
    # Before the policy, ftp:// became a local path and failed as InputNotFound.
    with pytest.raises(InputForbidden, match="ftp://"):
        fetch_one(
            "ftp://example.com/a.mp4", "video", tmp_path, InputLimits(), base_dir=tmp_path, storage=None
        )


def test_the_chart_can_allow_a_host_or_a_range(server: RecordingServer, tmp_path: Path) -> None:
    by_host = cluster_policy(allowed_hosts=["media.test"])
    path = download_http(
        f"http://media.test:{server.port}/files/clip.bin", tmp_path / "a.bin", max_bytes=1 << 20, timeout=5,
        policy=by_host,
    )  # fmt: skip
    assert path.read_bytes() == b"media bytes"
    by_range = cluster_policy(allowed_cidrs=["127.0.0.0/8"])
    path = download_http(
        f"{server.url}/files/clip.bin", tmp_path / "b.bin", max_bytes=1 << 20, timeout=5, policy=by_range
    )
    assert path.read_bytes() == b"media bytes"
    denied = cluster_policy(allowed_cidrs=["127.0.0.0/8"], denied_cidrs=["127.0.0.1/32"])
    assert "deniedCIDRs" in refused(f"{server.url}/files/clip.bin", tmp_path, denied)
    assert len(server.requests) == 2


def test_connection_goes_to_the_checked_address_with_the_original_host(
    server: RecordingServer, tmp_path: Path
) -> None:
    # media.test exists only in the stub: the system resolver is never asked, the connection
    # goes to the address that was checked, and the server still sees the name in Host.
    resolver = StubResolver()
    policy = cluster_policy(resolver=resolver, allowed_hosts=["media.test"])
    download_http(
        f"http://media.test:{server.port}/files/clip.bin", tmp_path / "a.bin", max_bytes=1 << 20, timeout=5,
        policy=policy,
    )  # fmt: skip
    assert server.requests == [("/files/clip.bin", f"media.test:{server.port}")]
    assert resolver.asked == ["media.test"]


def test_local_policy_keeps_loopback_and_local_files(server: RecordingServer, tmp_path: Path) -> None:
    local = InputPolicy.local()
    path = download_http(f"{server.url}/files/clip.bin", tmp_path / "a.bin", max_bytes=1 << 20, timeout=5)
    assert path.read_bytes() == b"media bytes"
    secret = tmp_path / "notes.srt"
    secret.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    for src in (str(secret), f"file://{secret}", "notes.srt"):
        fetched = fetch_one(
            src, "subtitles", tmp_path, InputLimits(), base_dir=tmp_path, storage=None, policy=local
        )
        assert fetched.path == secret


@pytest.mark.parametrize(
    "url",
    [
        "http://media.test@127.0.0.1:{port}/files/clip.bin",
        "http://127.0.0.1:{port}#@media.test/files/clip.bin",
        "http://media.test%2f@127.0.0.1:{port}/files/clip.bin",
    ],
)
def test_user_info_and_fragment_tricks_reach_no_unchecked_address(
    url: str, server: RecordingServer, tmp_path: Path
) -> None:
    # media.test is allowed; every spelling that really names 127.0.0.1 must be refused.
    policy = cluster_policy(allowed_hosts=["media.test"])
    with pytest.raises(InputForbidden):
        download_http(
            url.format(port=server.port), tmp_path / "o.bin", max_bytes=1 << 20, timeout=5, policy=policy
        )
    assert server.requests == []
