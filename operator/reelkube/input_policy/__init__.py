"""Which inputs a render may fetch: one policy checked before every fetch, and every redirect hop.

In the cluster a resource is written by a tenant, and the pod can reach what the tenant cannot:
its service-account token and other local files, the cloud's metadata service, the API server,
other namespaces' Services. :meth:`InputPolicy.cluster` refuses all of those unless the chart
allows a host or a CIDR; :meth:`InputPolicy.local` keeps ``reelkube render`` on a laptop as it
always was (local files, loopback servers).

Addresses are checked after parsing every numeric spelling a resolver would accept (``127.1``,
``0177.0.0.1``, ``0x7f000001``, ``2130706433``, ``::ffff:127.0.0.1``) and after DNS, which is
asked once per hop; the connection then goes to the checked address
(:class:`reelkube.input_policy.pinned.PinnedTransport`),
so a name cannot resolve to something else between the check and the connect.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reelkube.api import pod_contract
from reelkube.errors import InputForbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Sequence[str]]
"""Hostname -> every address it resolves to (as text). Tests pass a stub."""

REMOTE_SCHEMES = frozenset({"http", "https", "s3"})
REDIRECT_SCHEMES = frozenset({"http", "https"})
CLUSTER_MAX_REDIRECTS = 5
LOCAL_MAX_REDIRECTS = 20  # httpx's own default, which `reelkube render` always followed

# The env variables through which the chart's `inputs.*` reach the pod are the pod contract's.
ENV_ALLOWED_HOSTS = pod_contract.INPUTS_ALLOWED_HOSTS_ENV
ENV_ALLOWED_CIDRS = pod_contract.INPUTS_ALLOWED_CIDRS_ENV
ENV_DENIED_CIDRS = pod_contract.INPUTS_DENIED_CIDRS_ENV
ENV_CLUSTER_CIDRS = pod_contract.INPUTS_CLUSTER_CIDRS_ENV
ENV_ASSET_DIR = pod_contract.ASSET_DIR_ENV
DEFAULT_ASSET_DIR = Path(pod_contract.DEFAULT_ASSET_DIR)

# Named even though "not globally reachable" already covers them: the rule in a refusal says so.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23")
)
# IPv6 prefixes that carry an IPv4 address a gateway would reach for us: checked as that IPv4.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def system_resolver(host: str) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6, scope ids dropped)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def parse_numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spells, in any form a resolver accepts; None for a name.

    IPv4 follows the URL standard (and inet_aton): one to four parts, each decimal, octal
    (leading 0) or hex (0x), the last filling the remaining bytes (``127.1``, ``2130706433``).
    A host whose last label looks numeric but is no valid address is refused outright, as a
    browser refuses it, rather than handed to a resolver that may read it some other way.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0] if ":" in text else text  # an IPv6 zone id names no other host
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError as exc:
            raise InputForbidden(f"{host!r} is not a valid IPv6 address") from exc
    labels = text.rstrip(".").split(".") if text not in ("", ".") else [text]
    if not _looks_numeric(labels[-1]):
        return None
    numbers = [_ipv4_part(label) for label in labels]
    if len(numbers) > 4 or any(n is None for n in numbers):
        raise InputForbidden(f"{host!r} is neither a hostname nor a valid IPv4 address")
    parts = [n for n in numbers if n is not None]
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        raise InputForbidden(f"{host!r} is neither a hostname nor a valid IPv4 address")
    value = parts[-1]
    for index, part in enumerate(parts[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _looks_numeric(label: str) -> bool:
    if label.lower().startswith("0x"):
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isdigit()


def _ipv4_part(label: str) -> int | None:
    try:
        if label[:2].lower() == "0x":
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        return int(label, 10) if label.isdigit() else None
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def default_refusal(address: IPAddress) -> str | None:
    """Why an address is refused unless the chart allows it ("a loopback address"), or None."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return default_refusal(inner)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (CGNAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def _networks(values: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) if isinstance(v, str) else v for v in values)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class InputPolicy:
    """What inputs may be fetched: schemes, local files, and the addresses a URL may reach.

    Precedence for an address: ``denied_cidrs`` always refuse; then ``allowed_hosts`` (the URL's
    host, exact or ``*.suffix``) and ``allowed_cidrs`` allow; then the default refusals apply
    (loopback, link-local, metadata, private, CGNAT, multicast, unspecified, reserved, and
    ``cluster_cidrs``: the Service and pod ranges and the API server).
    """

    schemes: frozenset[str]
    """URL schemes accepted; ``file`` also governs absolute paths."""
    asset_dir: Path | None = None
    """When set, relative paths resolve inside this folder only (``..`` and symlinks checked).
    When None: relative to the caller's base folder, unchecked, if local files are allowed (the
    local behaviour); refused otherwise."""
    refuse_by_default: bool = True
    """Apply the default refusals; False keeps only ``denied_cidrs`` (the local policy)."""
    allowed_hosts: tuple[str, ...] = ()
    allowed_cidrs: tuple[IPNetwork, ...] = ()
    denied_cidrs: tuple[IPNetwork, ...] = ()
    cluster_cidrs: tuple[IPNetwork, ...] = ()
    max_redirects: int = CLUSTER_MAX_REDIRECTS
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def cluster(
        cls,
        *,
        asset_dir: Path | None = DEFAULT_ASSET_DIR,
        allowed_hosts: Iterable[str] = (),
        allowed_cidrs: Iterable[str | IPNetwork] = (),
        denied_cidrs: Iterable[str | IPNetwork] = (),
        cluster_cidrs: Iterable[str | IPNetwork] = (),
        resolver: Resolver = system_resolver,
    ) -> InputPolicy:
        """The policy of a render pod: http, https and s3 only, relative paths inside
        ``asset_dir`` only, private and special addresses refused unless allowed."""
        return cls(
            schemes=REMOTE_SCHEMES,
            asset_dir=asset_dir,
            refuse_by_default=True,
            allowed_hosts=tuple(_normal_host(h) for h in allowed_hosts if h.strip()),
            allowed_cidrs=_networks(allowed_cidrs),
            denied_cidrs=_networks(denied_cidrs),
            cluster_cidrs=_networks(cluster_cidrs),
            max_redirects=CLUSTER_MAX_REDIRECTS,
            resolver=resolver,
        )

    @classmethod
    def local(
        cls, *, denied_cidrs: Iterable[str | IPNetwork] = (), resolver: Resolver = system_resolver
    ) -> InputPolicy:
        """``reelkube render`` on one's own machine: local files (absolute, relative, file://)
        and any address, loopback included; only ``denied_cidrs`` refuse."""
        return cls(
            schemes=REMOTE_SCHEMES | {"file"},
            asset_dir=None,
            refuse_by_default=False,
            denied_cidrs=_networks(denied_cidrs),
            max_redirects=LOCAL_MAX_REDIRECTS,
            resolver=resolver,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InputPolicy:
        """The cluster policy from the render pod's environment (the chart's ``inputs.*``).

        The API server's own address (``KUBERNETES_SERVICE_HOST``) is always added to the
        cluster ranges, so it is refused even where the Service range was not configured.
        """
        env = os.environ if environ is None else environ

        def listed(name: str) -> list[str]:
            return [item.strip() for item in env.get(name, "").split(",") if item.strip()]

        cluster = listed(ENV_CLUSTER_CIDRS)
        api_host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
        if api_host:
            cluster.append(api_host)
        return cls.cluster(
            asset_dir=Path(env.get(ENV_ASSET_DIR) or DEFAULT_ASSET_DIR),
            allowed_hosts=listed(ENV_ALLOWED_HOSTS),
            allowed_cidrs=listed(ENV_ALLOWED_CIDRS),
            denied_cidrs=listed(ENV_DENIED_CIDRS),
            cluster_cidrs=cluster,
        )

    @property
    def allows_local_files(self) -> bool:
        """Absolute paths and ``file://`` URLs are accepted."""
        return "file" in self.schemes

    def host_allowed(self, host: str) -> bool:
        """The URL's host is named in ``allowed_hosts`` (exactly, or under a ``*.`` suffix)."""
        name = _normal_host(host)
        for allowed in self.allowed_hosts:
            if allowed.startswith("*.") and name.endswith(allowed[1:]):
                return True
            if name == allowed:
                return True
        return False

    def refusal(self, address: IPAddress, *, host_allowed: bool = False) -> str | None:
        """Why this policy refuses to connect to ``address`` (the rule, as a phrase), or None."""
        candidates = [address] + ([inner] if (inner := embedded_ipv4(address)) is not None else [])
        for candidate in candidates:
            for network in self.denied_cidrs:
                if candidate.version == network.version and candidate in network:
                    return f"an address in inputs.deniedCIDRs ({network})"
        if not self.refuse_by_default or host_allowed:
            return None
        for candidate in candidates:
            for network in self.allowed_cidrs:
                if candidate.version == network.version and candidate in network:
                    return None
        for candidate in candidates:
            for network in self.cluster_cidrs:
                if candidate.version == network.version and candidate in network:
                    return f"an address in the cluster range {network}"
        return default_refusal(address)

    def check_scheme(self, src: str, field_name: str) -> str:
        """The lower-cased scheme of ``src`` ("" for a plain path); InputForbidden if refused."""
        scheme = urlsplit(src).scheme.lower() if "://" in src else ""
        if scheme and scheme not in self.schemes | {"file"}:
            raise InputForbidden(f"{field_name}: scheme {scheme}:// is not accepted (http, https, s3)")
        if scheme == "file" and not self.allows_local_files:
            raise InputForbidden(self._pod_file(src, field_name))
        return scheme

    def local_path(self, src: str, base_dir: Path, field_name: str, *, made_here: Path | None = None) -> Path:
        """The file a local ``src`` names (its existence is the caller's to check).

        With local files allowed: as given, relative to ``base_dir``. Otherwise a relative path is
        resolved (symbolic links followed) inside the asset folder and must stay there, and an
        absolute one is accepted only inside ``made_here``, the job's own scratch folder, where
        the render keeps what it made or fetched itself (a narration, generated captions).
        """
        self.check_scheme(src, field_name)
        raw = unquote(urlsplit(src).path) if src.startswith("file://") else src
        if self.allows_local_files:
            path = Path(raw).expanduser()
            return path if path.is_absolute() else base_dir / path
        if raw.startswith(("/", "~")):
            if made_here is not None and raw.startswith("/"):
                resolved = Path(raw).resolve()
                if resolved.is_relative_to(made_here.resolve()):
                    return resolved
            raise InputForbidden(self._pod_file(src, field_name))
        if self.asset_dir is None:
            raise InputForbidden(f"{field_name}: {src} is a path, and there is no asset folder to hold it")
        root = self.asset_dir.resolve()
        resolved = (root / raw).resolve()
        if not resolved.is_relative_to(root):
            raise InputForbidden(
                f"{field_name}: {src} leaves the asset folder (`..` or a symbolic link pointing out)"
            )
        return resolved

    @staticmethod
    def _pod_file(src: str, field_name: str) -> str:
        return (
            f"{field_name}: {src} names a file of the render pod; only http, https and s3 URLs "
            "and paths relative to the asset folder are accepted"
        )

    def check_url(self, url: str, field_name: str) -> tuple[str, str]:
        """Resolve ``url``'s host once and check every address; (host, address to connect to).

        Raises InputForbidden naming the field and the rule; the message never carries what a
        refused address would have answered.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in REDIRECT_SCHEMES or scheme not in self.schemes:
            raise InputForbidden(f"{field_name}: scheme {scheme}:// is not accepted here")
        try:
            # Numeric spellings first: httpx refuses some (0177.0.0.1) and reads others as names.
            numeric = parse_numeric_host(parts.hostname or "")
        except InputForbidden as exc:
            raise InputForbidden(f"{field_name}: {exc.message}") from exc
        if numeric is not None and (
            rule := self.refusal(numeric, host_allowed=self.host_allowed(str(numeric)))
        ):
            raise InputForbidden(f"{field_name}: {url} is refused: its host is {rule}")
        # httpx (about 0.1 s to import) loads only for a URL: a render of local files needs none.
        import httpx

        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as exc:
            raise InputForbidden(f"{field_name}: {url} is not a valid URL ({exc})") from exc
        if not host:
            raise InputForbidden(f"{field_name}: {url} names no host")
        allowed = self.host_allowed(host)
        if numeric is not None:
            addresses: list[IPAddress] = [numeric]
        else:
            answers = self.resolver(_normal_host(host))
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
            if not addresses:
                raise InputForbidden(f"{field_name}: {host} does not resolve")
        for address in addresses:
            rule = self.refusal(address, host_allowed=allowed)
            if rule is not None:
                raise InputForbidden(
                    f"{field_name}: {url} is refused: its host is {rule}"
                    if numeric is not None
                    else f"{field_name}: {url} is refused: {host} resolves to {rule}",
                )
        # Whatever either parser made of the host, the connection goes to this checked address.
        return host, str(addresses[0])
