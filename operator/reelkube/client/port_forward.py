"""Reaching a cluster-internal HTTP endpoint from the user's machine, through the API server.

A presigned output URL (or the storage endpoint an upload goes to) may name a host only the
cluster can reach: a Service's DNS name (``storage.reelkube.svc``, ``...svc.cluster.local``) or
its ClusterIP. The client then finds the Service, one ready pod behind it and the pod's port,
and opens a :class:`LocalForward`: a listener on 127.0.0.1 whose every connection is carried to
that pod port by a port-forward through the API server (``kubernetes.stream.portforward``, the
same subresource ``kubectl port-forward`` uses). Callers connect to the listener but keep the
original ``Host`` header, so a SigV4 presigned signature, which covers the host, still verifies.
"""

from __future__ import annotations

import ipaddress
import json
import select
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from reelkube.client.errors import ClientError

if TYPE_CHECKING:
    from reelkube.client.cluster import Client

CLUSTER_DNS_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")
"""Names only the cluster's DNS answers (the default cluster domain)."""
PIPE_CHUNK_BYTES = 64 * 1024


class RemoteSocket(Protocol):
    """What a port-forward hands back for one connection: a socket to the pod's port."""

    def fileno(self) -> int: ...
    def recv(self, size: int, /) -> bytes: ...
    def sendall(self, data: bytes, /) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class PodPort:
    """The pod (and its port) behind a Service's port, where a forward is opened to."""

    namespace: str
    pod: str
    port: int
    service: str


def service_from_dns(host: str) -> tuple[str, str] | None:
    """(name, namespace) of a Service DNS name (``name.namespace.svc[.cluster.local]``); None for
    any other host. A bare ``name.svc`` (no namespace) is not a Service name."""
    lowered = host.lower().rstrip(".")
    for suffix in (".svc.cluster.local", ".svc"):
        if lowered.endswith(suffix):
            labels = lowered.removesuffix(suffix).split(".")
            return (labels[0], labels[1]) if len(labels) == 2 and all(labels) else None
    return None


def is_cluster_dns_name(host: str) -> bool:
    """Whether ``host`` is a name of the cluster's own DNS domain."""
    return host.lower().rstrip(".").endswith(CLUSTER_DNS_SUFFIXES)


def may_be_cluster_ip(host: str) -> bool:
    """Whether ``host`` is an address a Service could own (private, not loopback): only those
    are worth a lookup; a public address is reached directly."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private and not address.is_loopback and not address.is_link_local


def url_port(url: str) -> int:
    """The port a URL connects to (80/443 when it names none)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def target_port(service: Mapping[str, Any], port: int, pod: Mapping[str, Any]) -> int | None:
    """The pod's port number behind ``port`` of ``service``: the Service port's targetPort (a
    number, or a name looked up among the pod's container ports; absent means the same number).
    None when the Service has no such port or the pod no such named port."""
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") != port:
            continue
        target = entry.get("targetPort", port)
        if isinstance(target, int):
            return target
        if isinstance(target, str) and target.isdigit():
            return int(target)
        for container in (pod.get("spec") or {}).get("containers") or []:
            for declared in container.get("ports") or []:
                if declared.get("name") == target:
                    return int(declared["containerPort"])
        return None
    return None


def ready_pods(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Running pods whose Ready condition is True, not being deleted, oldest first."""
    chosen = []
    for pod in pods:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        if status.get("phase") == "Running" and ready and not pod["metadata"].get("deletionTimestamp"):
            chosen.append(pod)
    chosen.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
    return chosen


def service_backend(client: Client, url: str) -> PodPort | None:
    """The pod port behind the Service ``url``'s host names (its DNS name or ClusterIP); None
    when the host is no Service's (then it is reached directly). ClientError when it is a
    Service but nothing behind it can take the connection."""
    host = urlsplit(url).hostname or ""
    port = url_port(url)
    service = _find_service(client, host)
    if service is None:
        if is_cluster_dns_name(host):
            raise ClientError(f"{host} is a cluster-internal name, but no Service of that name was found")
        return None
    namespace = service["metadata"]["namespace"]
    name = service["metadata"]["name"]
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        raise ClientError(f"Service {namespace}/{name} has no pod selector to forward to")
    pods = client.core.list_namespaced_pod(
        namespace, label_selector=",".join(f"{k}={v}" for k, v in selector.items()), _preload_content=False
    )
    candidates = ready_pods(json.loads(pods.data).get("items", []))
    for pod in candidates:
        number = target_port(service, port, pod)
        if number is not None:
            return PodPort(namespace, pod["metadata"]["name"], number, name)
    what = "no ready pod" if not candidates else f"no port {port}"
    raise ClientError(
        f"cannot reach {host}:{port} through the API server: Service {namespace}/{name} has {what}"
    )


def _find_service(client: Client, host: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    named = service_from_dns(host)
    if named is not None:
        name, namespace = named
        try:
            response = client.core.read_namespaced_service(name, namespace, _preload_content=False)
            return dict(json.loads(response.data))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClientError(
                f"{host} is cluster-internal, and reading Service {namespace}/{name} to reach it"
                f" through the API server was refused (HTTP {exc.status}: {exc.reason})"
            ) from None
    if not may_be_cluster_ip(host):
        return None
    address = str(ipaddress.ip_address(host.strip("[]")))
    try:
        listed = client.core.list_service_for_all_namespaces(
            field_selector=f"spec.clusterIP={address}", _preload_content=False
        )
    except ApiException as exc:
        if exc.status not in (400, 403):
            raise
        # Not allowed to list every namespace (or an API server without that field selector):
        # the client's own namespace is where a tenant's Services are.
        try:
            listed = client.core.list_namespaced_service(client.namespace, _preload_content=False)
        except ApiException as inner:
            if inner.status != 403:
                raise
            return None  # no Service we may see: the address is tried directly
    for service in json.loads(listed.data).get("items", []):
        spec = service.get("spec") or {}
        if address == spec.get("clusterIP") or address in (spec.get("clusterIPs") or []):
            return dict(service)
    return None


class LocalForward:
    """A listener on 127.0.0.1 (an unused port) that carries every accepted connection to a
    socket ``open_remote()`` returns, bytes both ways, until either side closes.

    ``open_remote`` opens one port-forward through the API server in the client; tests hand it
    a plain TCP connection.
    """

    def __init__(self, open_remote: Callable[[], RemoteSocket]) -> None:
        self._open_remote = open_remote
        self.errors: list[str] = []
        """Why connections could not be carried (the port-forward refused, the pod gone)."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"forward :{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: where a caller connects instead of the original host."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalForward:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting; connections still open end when either side closes."""
        self._closed.set()
        with suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                local, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._carry, args=(local,), daemon=True).start()

    def _carry(self, local: socket.socket) -> None:
        try:
            remote = self._open_remote()
        except Exception as exc:  # the caller sees a closed connection; `forwarded` says why
            self.errors.append(str(exc) or type(exc).__name__)
            local.close()
            return
        try:
            pipe(local, remote)
        finally:
            with suppress(OSError):
                remote.close()
            with suppress(OSError):
                local.close()


def pipe(local: socket.socket, remote: RemoteSocket) -> None:
    """Copy bytes between the two sockets until one of them ends."""
    sockets = [local, remote]
    while True:
        readable, _, _ = select.select(sockets, [], [], 60)
        if not readable:
            continue
        for source in readable:
            try:
                data = source.recv(PIPE_CHUNK_BYTES)
            except OSError:
                return
            if not data:
                return
            target = remote if source is local else local
            try:
                target.sendall(data)
            except OSError:
                return


_PORTFORWARD_LOCK = threading.Lock()


def api_server_opener(client: Client, target: PodPort) -> Callable[[], RemoteSocket]:
    """A function opening one port-forward to ``target`` through the API server per call."""
    from kubernetes import client as kube
    from kubernetes.stream import portforward

    # kubernetes.stream swaps the ApiClient's request method while it connects: a private
    # ApiClient keeps that away from watches running on the client's own one.
    core = kube.CoreV1Api(kube.ApiClient(client.api_client.configuration))

    def open_remote() -> RemoteSocket:
        with _PORTFORWARD_LOCK:
            forward = portforward(
                core.connect_get_namespaced_pod_portforward, target.pod, target.namespace,
                ports=str(target.port),
            )  # fmt: skip
        remote: RemoteSocket = forward.socket(target.port)
        return remote

    return open_remote


@contextmanager
def forwarded(open_remote: Callable[[], RemoteSocket], what: str = "the forward") -> Iterator[str]:
    """A LocalForward's base URL for the block; a ClientError raised in the block gains the
    reason the forward could not carry the connection, when it had one."""
    with LocalForward(open_remote) as forward:
        try:
            yield forward.base_url
        except ClientError as exc:
            if not forward.errors:
                raise
            raise ClientError(f"{exc} ({what} failed: {forward.errors[-1]})") from exc


@contextmanager
def reach(client: Client, url: str) -> Iterator[str | None]:
    """The base URL to connect to for ``url``: None when its host is reached directly, else a
    LocalForward's (through the API server to the pod behind the host's Service)."""
    target = service_backend(client, url)
    if target is None:
        yield None
        return
    what = f"the port-forward to pod {target.namespace}/{target.pod}:{target.port} (Service {target.service})"
    with forwarded(api_server_opener(client, target), what) as base_url:
        yield base_url
