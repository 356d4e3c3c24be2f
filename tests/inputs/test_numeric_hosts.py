"""Every spelling of an address is read as the address it is, and checked as such."""

from __future__ import annotations

import ipaddress

import pytest

from reelkube.errors import InputForbidden
from reelkube.input_policy import InputPolicy, default_refusal, embedded_ipv4, parse_numeric_host

SPELLINGS = {
    "127.0.0.1": "127.0.0.1",
    "127.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "0177.1": "127.0.0.1",
    "0x7f.0.0.1": "127.0.0.1",
    "0x7F.1": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "017700000001": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",
    "0": "0.0.0.0",
    "2852039166": "169.254.169.254",
    "0xa9fea9fe": "169.254.169.254",
    "0251.0376.0251.0376": "169.254.169.254",
    "169.254.43518": "169.254.169.254",
    "[::1]": "::1",
    "::ffff:127.0.0.1": "::ffff:127.0.0.1",
    "[::ffff:7f00:1]": "::ffff:127.0.0.1",
    "[fd00:ec2::254]": "fd00:ec2::254",
    "[fe80::1%25eth0]": "fe80::1",
}


@pytest.mark.parametrize(("spelling", "address"), sorted(SPELLINGS.items()))
def test_numeric_spellings_parse_to_their_address(spelling: str, address: str) -> None:
    assert parse_numeric_host(spelling) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "name", ["example.com", "kubernetes.default.svc", "1x.example", "0x.example", "0x1g"]
)
def test_names_are_left_to_the_resolver(name: str) -> None:
    assert parse_numeric_host(name) is None


@pytest.mark.parametrize(
    "bad", ["1.2.3.256", "1.2.3.4.5", "08.0.0.1", "4294967296", "[:::1]", "1..2", "a.0x"]
)
def test_malformed_numbers_are_refused_not_guessed(bad: str) -> None:
    with pytest.raises(InputForbidden):
        parse_numeric_host(bad)


REFUSED = {
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",
    "100.100.100.200": "metadata",
    "fd00:ec2::254": "metadata",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "100.64.0.1": "CGNAT",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "metadata",
    "::ffff:10.0.0.1": "private",
    "64:ff9b::a9fe:a9fe": "metadata",
    "2002:7f00:1::": "loopback",
    "::127.0.0.1": "loopback",
}


@pytest.mark.parametrize(("address", "rule"), sorted(REFUSED.items()))
def test_default_refusals_name_their_rule(address: str, rule: str) -> None:
    refusal = default_refusal(ipaddress.ip_address(address))
    assert refusal is not None and rule in refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert default_refusal(ipaddress.ip_address(address)) is None
    assert InputPolicy.cluster().refusal(ipaddress.ip_address(address)) is None


def test_embedded_ipv4_forms() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("64:ff9b::102:304")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2002:102:304::")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2606:2800::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("::1")) is None  # loopback, not ::0.0.0.1


def test_chart_lists_allow_and_deny() -> None:
    policy = InputPolicy.cluster(
        allowed_cidrs=["10.20.0.0/16"],
        denied_cidrs=["93.184.216.0/24", "10.20.30.0/24"],
        cluster_cidrs=["11.96.0.0/12"],
        allowed_hosts=["minio.storage.svc", "*.assets.test"],
    )
    assert policy.refusal(ipaddress.ip_address("10.20.1.1")) is None
    assert "deniedCIDRs" in (policy.refusal(ipaddress.ip_address("93.184.216.34")) or "")
    # A denied CIDR wins over an allowed one, and over an allowed host.
    assert "deniedCIDRs" in (policy.refusal(ipaddress.ip_address("10.20.30.1")) or "")
    assert "deniedCIDRs" in (policy.refusal(ipaddress.ip_address("10.20.30.1"), host_allowed=True) or "")
    assert "cluster range" in (policy.refusal(ipaddress.ip_address("11.96.0.1")) or "")
    assert policy.refusal(ipaddress.ip_address("11.96.0.1"), host_allowed=True) is None
    assert policy.host_allowed("MinIO.storage.svc.") and policy.host_allowed("a.b.assets.test")
    assert not policy.host_allowed("assets.test.evil") and not policy.host_allowed("minio.storage.svc.evil")


def test_policy_from_the_pods_environment(tmp_path: object) -> None:
    policy = InputPolicy.from_env(
        {
            "REELKUBE_INPUTS_ALLOWED_HOSTS": "minio.storage.svc, cdn.example",
            "REELKUBE_INPUTS_ALLOWED_CIDRS": "10.20.0.0/16",
            "REELKUBE_INPUTS_DENIED_CIDRS": "93.184.216.0/24",
            "REELKUBE_INPUTS_CLUSTER_CIDRS": "11.96.0.0/12,11.244.0.0/16",
            "REELKUBE_ASSET_DIR": "/srv/assets",
            "KUBERNETES_SERVICE_HOST": "12.0.0.1",
        }
    )
    assert policy.allowed_hosts == ("minio.storage.svc", "cdn.example")
    assert not policy.allows_local_files and policy.max_redirects == 5
    assert str(policy.asset_dir) == "/srv/assets"
    # The API server is refused even when its address is public and no range names it.
    assert "the cluster range 12.0.0.1/32" in (policy.refusal(ipaddress.ip_address("12.0.0.1")) or "")
    assert "cluster range" in (policy.refusal(ipaddress.ip_address("11.244.3.3")) or "")
