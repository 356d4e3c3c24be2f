"""`Client`: RenderJobs and TTSJobs through the Kubernetes API, with the user's own credentials.

Everything goes through the official client as the user (kubeconfig and context, as kubectl
reads them) or as a pod's service account. Reads come back as :class:`Snapshot` (the body plus
its typed status); waiting is a watch on the one object, never polling.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes import client as kube
from kubernetes import config, watch
from kubernetes.client.exceptions import ApiException

from reelkube.api.kinds import KINDS, Resource, ResourceKind
from reelkube.client.errors import ResourceNotFound
from reelkube.client.resources import Body, Snapshot, resource_body

if TYPE_CHECKING:
    from reelkube.client.handle import Handle

FIELD_MANAGER = "reelkube-client"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

WatchEvent = tuple[str, Snapshot]
"""``(type, snapshot)``: type is ADDED, MODIFIED or DELETED."""


def _json(response: Any) -> Any:
    return json.loads(response.data)


class Client:
    """A connection to one cluster, with a default namespace (the context's, or the pod's)."""

    def __init__(self, api_client: kube.ApiClient, namespace: str = "default") -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.custom = kube.CustomObjectsApi(api_client)
        self.core = kube.CoreV1Api(api_client)

    @classmethod
    def from_kubeconfig(cls, context: str | None = None, config_file: str | None = None) -> Client:
        """As kubectl: KUBECONFIG or ~/.kube/config, the current context unless ``context``."""
        # KUBECONFIG read now: the kubernetes package reads it once, when first imported.
        config_file = config_file or os.environ.get("KUBECONFIG") or None
        configuration = kube.Configuration()
        config.load_kube_config(config_file=config_file, context=context, client_configuration=configuration)
        contexts, current = config.list_kube_config_contexts(config_file=config_file)
        chosen = next((c for c in contexts if c["name"] == context), current) if context else current
        namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        return cls(kube.ApiClient(configuration), namespace)

    @classmethod
    def in_cluster(cls) -> Client:
        """As the pod's service account, in the pod's namespace."""
        configuration = kube.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        path = SERVICE_ACCOUNT_NAMESPACE
        namespace = path.read_text().strip() if path.exists() else "default"
        return cls(kube.ApiClient(configuration), namespace)

    # -- resources ---------------------------------------------------------------------------

    def submit(
        self,
        resource: Resource | Mapping[str, Any] | Path | str,
        namespace: str | None = None,
        *,
        base_dir: Path | str | None = None,
        upload: bool = True,
    ) -> Handle:
        """Create the resource (validated here first, as `reelkube validate` does); its Handle.

        The namespace is ``namespace``, else the manifest's, else the client's default. With
        ``upload``, input fields naming files beside the manifest (relative to ``base_dir``:
        by default a manifest path's folder, else the current directory) are uploaded to the
        resource's storage and rewritten to ``s3://`` first (:mod:`reelkube.client.uploads`;
        what was done is ``handle.uploads``); the caller's mapping or model is left unchanged.
        """
        from reelkube.client.handle import Handle

        body = copy.deepcopy(resource_body(resource))
        kind = KINDS[body["kind"]]
        metadata = body.setdefault("metadata", {})
        metadata["namespace"] = namespace or metadata.get("namespace") or self.namespace
        uploads = None
        if upload:
            from reelkube.client.uploads import upload_local_inputs

            if base_dir is None:
                base_dir = Path(resource).parent if isinstance(resource, str | Path) else Path.cwd()
            uploads = upload_local_inputs(self, body, Path(base_dir))
        created = _json(
            self.custom.create_namespaced_custom_object(
                kind.group,
                kind.version,
                metadata["namespace"],
                kind.plural,
                body,
                field_manager=FIELD_MANAGER,
                _preload_content=False,
            )
        )
        handle = Handle(self, Snapshot(kind, created))
        handle.uploads = uploads
        return handle

    def handle(self, name: str, namespace: str | None = None, kind: ResourceKind | None = None) -> Handle:
        """A Handle on an existing resource (ResourceNotFound if there is none)."""
        from reelkube.client.handle import Handle

        return Handle(self, self.get(name, namespace, kind))

    def get(self, name: str, namespace: str | None = None, kind: ResourceKind | None = None) -> Snapshot:
        """The resource called ``name``; without ``kind``, a RenderJob, else a TTSJob."""
        namespace = namespace or self.namespace
        for candidate in (kind,) if kind else tuple(KINDS.values()):
            try:
                body = _json(
                    self.custom.get_namespaced_custom_object(
                        candidate.group, candidate.version, namespace, candidate.plural, name,
                        _preload_content=False,
                    )
                )  # fmt: skip
            except ApiException as exc:
                if exc.status == 404:
                    continue
                raise
            return Snapshot(candidate, body)
        what = kind.kind if kind else " or ".join(KINDS)
        raise ResourceNotFound(f"no {what} {namespace}/{name}")

    def list(
        self,
        selector: str | None = None,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        kinds: Iterable[ResourceKind] | None = None,
    ) -> list[Snapshot]:
        """Resources matching the label ``selector``, RenderJobs first, each by creation time."""
        found: list[Snapshot] = []
        for kind in kinds or KINDS.values():
            options: dict[str, Any] = {"_preload_content": False}
            if selector:
                options["label_selector"] = selector
            if all_namespaces:
                response = self.custom.list_cluster_custom_object(
                    kind.group, kind.version, kind.plural, **options
                )
            else:
                response = self.custom.list_namespaced_custom_object(
                    kind.group, kind.version, namespace or self.namespace, kind.plural, **options
                )
            items = _json(response).get("items", [])
            items.sort(key=lambda b: (b["metadata"].get("creationTimestamp") or "", b["metadata"]["name"]))
            found += [Snapshot(kind, item) for item in items]
        return found

    def watch(
        self,
        selector: str | None = None,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        kinds: Iterable[ResourceKind] | None = None,
        name: str | None = None,
        resource_version: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[WatchEvent]:
        """Changes to matching resources as they happen (the current ones first, as ADDED,
        unless ``resource_version`` says where to start). Ends after ``timeout`` seconds, or
        never; with several kinds, one watch per kind runs in a thread."""
        chosen = list(kinds or KINDS.values())
        options: dict[str, Any] = {}
        if selector:
            options["label_selector"] = selector
        if name:
            options["field_selector"] = f"metadata.name={name}"
        if timeout is not None:
            options["timeout_seconds"] = max(1, int(timeout + 0.999))
        if resource_version:
            options["resource_version"] = resource_version
        scope = None if all_namespaces else (namespace or self.namespace)
        if len(chosen) == 1:
            yield from self._watch_kind(chosen[0], scope, options)
            return
        yield from _merged([self._watch_kind(kind, scope, options) for kind in chosen])

    def _watch_kind(
        self, kind: ResourceKind, namespace: str | None, options: dict[str, Any]
    ) -> Iterator[WatchEvent]:
        stream = watch.Watch()
        if namespace is None:
            source = stream.stream(
                self.custom.list_cluster_custom_object, kind.group, kind.version, kind.plural, **options
            )
        else:
            source = stream.stream(
                self.custom.list_namespaced_custom_object, kind.group, kind.version, namespace, kind.plural,
                **options,
            )  # fmt: skip
        try:
            for event in source:
                kind_of_event = event.get("type")
                body = event.get("raw_object", event.get("object"))
                if kind_of_event in {"ADDED", "MODIFIED", "DELETED"} and isinstance(body, dict):
                    yield str(kind_of_event), Snapshot(kind, body)
                elif kind_of_event == "ERROR":
                    code = body.get("code") if isinstance(body, dict) else None
                    raise ApiException(status=code or 500, reason=str((body or {}).get("message", body)))
        finally:
            stream.stop()

    def cancel(self, name: str, namespace: str | None = None, kind: ResourceKind | None = None) -> Snapshot:
        """Set ``spec.cancel: true`` (a merge patch; one way, so repeating it is harmless)."""
        current = self.get(name, namespace, kind)
        patched = _json(
            self.custom.patch_namespaced_custom_object(
                current.kind.group, current.kind.version, current.namespace, current.kind.plural, name,
                {"spec": {"cancel": True}},
                _content_type="application/merge-patch+json",
                _preload_content=False,
            )
        )  # fmt: skip
        return Snapshot(current.kind, patched)

    # -- what surrounds a resource -------------------------------------------------------------

    def reach(self, url: str) -> AbstractContextManager[str | None]:
        """The route to ``url``: a context giving None (connect directly) or the base URL of a
        local forward through the API server, when the host is cluster-internal (a Service's
        DNS name or ClusterIP; :mod:`reelkube.client.port_forward`)."""
        from reelkube.client.port_forward import reach

        return reach(self, url)

    def pods(self, snapshot: Snapshot) -> builtins.list[Body]:
        """The render pods of every attempt, oldest first (the pods of the resource's Job)."""
        job = snapshot.status.jobName
        if not job:
            return []
        response = self.core.list_namespaced_pod(
            snapshot.namespace, label_selector=f"batch.kubernetes.io/job-name={job}", _preload_content=False
        )
        pods: builtins.list[Body] = _json(response).get("items", [])
        pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        return pods

    def pod_log(self, namespace: str, pod: str, *, follow: bool = False) -> Iterator[str]:
        """A pod's log, line by line; with ``follow``, until the container ends."""
        response = self.core.read_namespaced_pod_log(pod, namespace, follow=follow, _preload_content=False)
        try:
            pending = b""
            for chunk in response.stream(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            response.release_conn()

    def events(self, snapshot: Snapshot) -> builtins.list[Body]:
        """Kubernetes Events about the resource, oldest first."""
        selector = f"involvedObject.name={snapshot.name},involvedObject.kind={snapshot.kind.kind}"
        response = self.core.list_namespaced_event(
            snapshot.namespace, field_selector=selector, _preload_content=False
        )
        events: builtins.list[Body] = _json(response).get("items", [])
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return events


_END = object()


def _merged(streams: list[Iterator[WatchEvent]]) -> Iterator[WatchEvent]:
    """Interleave several watches, each drained in a daemon thread, as events arrive."""
    events: queue.Queue[Any] = queue.Queue()

    def drain(stream: Iterator[WatchEvent]) -> None:
        try:
            for event in stream:
                events.put(event)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            events.put(exc)
        finally:
            events.put(_END)

    for stream in streams:
        threading.Thread(target=drain, args=(stream,), daemon=True).start()
    running = len(streams)
    while running:
        item = events.get()
        if item is _END:
            running -= 1
        elif isinstance(item, BaseException):
            raise item
        else:
            yield item
