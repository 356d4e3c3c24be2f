"""Policies and a stub resolver shared by the input tests (DNS answers chosen by the test)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reelkube.input_policy import InputPolicy

# What the stub "DNS" answers: names a tenant could use to reach what it should not.
HOSTILE_DNS: dict[str, list[str]] = {
    "kubernetes.default.svc": ["10.96.0.1"],
    "kubernetes.default.svc.cluster.local": ["10.96.0.1"],
    "minio.other-tenant.svc.cluster.local": ["11.96.4.20"],  # a Service range outside RFC1918
    "localtest.me": ["127.0.0.1"],
    "loopback6.test": ["::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "metadata6.test": ["fd00:ec2::254"],
    "node.test": ["10.0.0.7"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],  # one public answer does not hide the other
    "public.test": ["93.184.216.34"],
    "media.test": ["127.0.0.1"],
}
CLUSTER_CIDRS = ("11.96.0.0/12", "11.244.0.0/16")


class StubResolver:
    """Answers from a table and counts the questions (one per hop, never a second look)."""

    def __init__(self, answers: Mapping[str, Sequence[str]] | None = None) -> None:
        self.answers = dict(HOSTILE_DNS if answers is None else answers)
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return list(self.answers.get(host, []))


def cluster_policy(
    asset_dir: Path | None = None, resolver: StubResolver | None = None, **overrides: object
) -> InputPolicy:
    """The cluster policy with the test's asset folder, Service ranges and stub DNS."""
    return InputPolicy.cluster(
        asset_dir=asset_dir,
        cluster_cidrs=CLUSTER_CIDRS,
        resolver=resolver or StubResolver(),
        **overrides,  # type: ignore[arg-type]
    )
