"""The few Kubernetes API calls the reconciler makes, over the official client.

Reads come back as plain API JSON (camelCase dicts, exactly what ``kubectl get -o json`` shows),
so the pure functions in ``job_observation`` see the same shapes in tests and in production.
Creates are idempotent: a 409 AlreadyExists is success, because the names are deterministic.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from reelkube.api.kinds import ResourceKind
from reelkube.controller.job_manifests import MANAGED_BY, MANAGED_BY_LABEL

log = logging.getLogger(__name__)
Obj = dict[str, Any]


CONNECTION_POOL_SIZE = 64
"""Kept connections to the API server: at least kopf's handler threads (32) plus the
child-create threads (16). The client's default (5 per CPU) made a busy operator on a small
node discard connections and pay a TLS handshake per request ("Connection pool is full")."""


def load_kube_config(pool_size: int = CONNECTION_POOL_SIZE) -> client.ApiClient:
    """An API client from the in-cluster service account, else from KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        # KUBECONFIG read now, not when the kubernetes package was imported.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def _json(response: Any) -> Obj:
    return json.loads(response.data)


class ClusterClient:
    """Typed entry points for what the operator reads and writes."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def _creator(self, kind: str) -> Callable[..., Any]:
        return {
            "ConfigMap": self.core.create_namespaced_config_map,
            "ServiceAccount": self.core.create_namespaced_service_account,
            "Role": self.rbac.create_namespaced_role,
            "RoleBinding": self.rbac.create_namespaced_role_binding,
            "Job": self.batch.create_namespaced_job,
        }[kind]

    def create(self, manifest: Mapping[str, Any]) -> bool:
        """Create ``manifest``; True if created, False if it already existed (409)."""
        meta = manifest["metadata"]
        try:
            self._creator(manifest["kind"])(meta["namespace"], manifest)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def get_job(self, namespace: str, name: str) -> Obj | None:
        """The Job, or None if there is none (a direct read, not a cache)."""
        try:
            return _json(self.batch.read_namespaced_job(name, namespace, _preload_content=False))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete_job(self, namespace: str, name: str) -> bool:
        """Delete a Job and, in the background, its pods (they get SIGTERM); False if it was gone."""
        try:
            self.batch.delete_namespaced_job(
                name, namespace, propagation_policy="Background", _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list_job_pods(self, namespace: str, job_name: str) -> list[Obj]:
        """Pods of one Job (selected by the label the Job controller sets)."""
        response = self.core.list_namespaced_pod(
            namespace, label_selector=f"batch.kubernetes.io/job-name={job_name}", _preload_content=False
        )
        return list(_json(response).get("items", []))

    def list_managed_jobs(self, namespaces: tuple[str, ...] = ()) -> list[Obj]:
        """Every Job the operator created, cluster-wide or in ``namespaces``."""
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
        if not namespaces:
            response = self.batch.list_job_for_all_namespaces(label_selector=selector, _preload_content=False)
            return list(_json(response).get("items", []))
        items: list[Obj] = []
        for namespace in namespaces:
            response = self.batch.list_namespaced_job(
                namespace, label_selector=selector, _preload_content=False
            )
            items.extend(_json(response).get("items", []))
        return items

    def list_namespace_annotations(self) -> dict[str, dict[str, str]]:
        """Every Namespace's annotations, by name (for per-namespace limits)."""
        items = _json(self.core.list_namespace(_preload_content=False)).get("items", [])
        return {ns["metadata"]["name"]: dict(ns["metadata"].get("annotations") or {}) for ns in items}

    def get_resource(self, kind: ResourceKind, namespace: str, name: str) -> Obj | None:
        """The RenderJob/TTSJob, or None if it is gone."""
        try:
            return _json(
                self.custom.get_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, name, _preload_content=False
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list_resources(self, kind: ResourceKind, namespaces: tuple[str, ...] = ()) -> list[Obj]:
        """Every resource of ``kind``, cluster-wide or in ``namespaces``."""
        if not namespaces:
            response = self.custom.list_cluster_custom_object(
                kind.group, kind.version, kind.plural, _preload_content=False
            )
            return list(_json(response).get("items", []))
        items: list[Obj] = []
        for namespace in namespaces:
            response = self.custom.list_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, _preload_content=False
            )
            items.extend(_json(response).get("items", []))
        return items

    def patch_status(self, kind: ResourceKind, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """JSON merge patch of ``status`` through the status subresource."""
        self.custom.patch_namespaced_custom_object_status(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            {"status": dict(patch)},
            _content_type="application/merge-patch+json",
            _preload_content=False,
        )

    def remove_annotation(self, kind: ResourceKind, namespace: str, name: str, key: str) -> None:
        """Remove one annotation from a RenderJob/TTSJob (a merge patch of its metadata)."""
        self.custom.patch_namespaced_custom_object(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            {"metadata": {"annotations": {key: None}}},
            _content_type="application/merge-patch+json",
            _preload_content=False,
        )

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Create a core/v1 Event (see :mod:`reelkube.controller.events`)."""
        self.core.create_namespaced_event(namespace, dict(event), _preload_content=False)

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret, decoded; None if the Secret or key is absent."""
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        value = (secret.data or {}).get(key)
        return base64.b64decode(value).decode() if value is not None else None
