"""Where a resource without ``spec.storage`` has its files: the operator's default storage.

`reelkube submit` needs it to upload a manifest's local files where the render pod will read
them. The client learns it the way the pod does, from the same variables
(:func:`reelkube.api.pod_contract.storage_from_env`), looked for in two places:

1. the user's own environment (``REELKUBE_STORAGE_BUCKET`` and its siblings,
   ``REELKUBE_STORAGE_CREDENTIALS_SECRET``), which always wins: a tenant who may not read the
   operator's namespace sets these once;
2. the operator's Deployment (labels ``app.kubernetes.io/name=reelkube`` and
   ``app.kubernetes.io/component=operator``, any namespace), whose container environment the
   chart renders from ``storage.*``: with several releases, the one watching the resource's
   namespace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reelkube.api import pod_contract
from reelkube.api.common import StorageSpec
from reelkube.client.errors import ClientError

if TYPE_CHECKING:
    from reelkube.client.cluster import Client

OPERATOR_SELECTOR = "app.kubernetes.io/name=reelkube,app.kubernetes.io/component=operator"
CREDENTIALS_SECRET_ENV = "REELKUBE_STORAGE_CREDENTIALS_SECRET"
WATCH_NAMESPACES_ENV = "REELKUBE_WATCH_NAMESPACES"
EMBEDDED_STORAGE_URL_ENV = "REELKUBE_EMBEDDED_STORAGE_URL"


@dataclass(frozen=True)
class DefaultStorage:
    """The operator's default storage, the name of its credentials Secret (looked up in each
    resource's namespace, as the render pod's is) and where the client found them."""

    storage: StorageSpec
    credentials_secret: str | None
    source: str


def storage_from_environment(environ: Mapping[str, str], source: str) -> DefaultStorage | None:
    """The default storage the variables describe; None without ``REELKUBE_STORAGE_BUCKET``."""
    storage = pod_contract.storage_from_env(environ)
    if storage is None:
        return None
    return DefaultStorage(storage, environ.get(CREDENTIALS_SECRET_ENV) or None, source)


def container_env(deployment: Mapping[str, Any]) -> dict[str, str]:
    """The literal ``env`` values of a Deployment's operator container (the first container
    when none is called ``operator``); ``valueFrom`` entries are not the client's to resolve."""
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    chosen = next((c for c in containers if c.get("name") == "operator"), containers[0] if containers else {})
    return {e["name"]: str(e["value"]) for e in chosen.get("env") or [] if "value" in e and "name" in e}


def client_side_env(env: Mapping[str, str]) -> dict[str, str]:
    """The operator's environment as a client outside its pod reads it. With the chart's embedded
    storage the endpoint is ``http://$(<SERVICE>_SERVICE_HOST):9000``, which only Kubernetes
    expands, inside the pod; the chart also gives the Service's DNS URL for clients, and the
    port-forward reaches either."""
    endpoint = env.get(pod_contract.STORAGE_ENDPOINT_ENV, "")
    embedded = env.get(EMBEDDED_STORAGE_URL_ENV, "")
    if "$(" in endpoint and embedded:
        return {**env, pod_contract.STORAGE_ENDPOINT_ENV: embedded}
    return dict(env)


def watches(env: Mapping[str, str], namespace: str) -> bool:
    """Whether an operator with this environment reconciles ``namespace`` (an empty list is all)."""
    listed = [n.strip() for n in env.get(WATCH_NAMESPACES_ENV, "").split(",") if n.strip()]
    return not listed or namespace in listed


def storage_from_operators(deployments: Sequence[Mapping[str, Any]], namespace: str) -> DefaultStorage | None:
    """The default storage of the operator that watches ``namespace`` (of the first such
    Deployment, by namespace and name); None when none does or it has no bucket."""
    ordered = sorted(deployments, key=lambda d: (d["metadata"].get("namespace", ""), d["metadata"]["name"]))
    for deployment in ordered:
        env = client_side_env(container_env(deployment))
        if watches(env, namespace):
            meta = deployment["metadata"]
            return storage_from_environment(env, f"Deployment {meta.get('namespace')}/{meta['name']}")
    return None


def find_default_storage(client: Client, namespace: str, environ: Mapping[str, str]) -> DefaultStorage:
    """The default storage for a resource in ``namespace`` (see the module docstring);
    ClientError saying what to set when neither place tells."""
    from kubernetes.client import AppsV1Api
    from kubernetes.client.exceptions import ApiException

    found = storage_from_environment(environ, "the environment (REELKUBE_STORAGE_BUCKET)")
    if found is not None:
        return found
    hint = (
        "set spec.storage in the manifest, or REELKUBE_STORAGE_BUCKET (and REELKUBE_STORAGE_ENDPOINT,"
        " REELKUBE_STORAGE_PREFIX) to the operator's storage.* values"
    )
    try:
        response = AppsV1Api(client.api_client).list_deployment_for_all_namespaces(
            label_selector=OPERATOR_SELECTOR, _preload_content=False
        )
    except ApiException as exc:
        raise ClientError(
            f"cannot read the operator's Deployment to learn its default storage (HTTP {exc.status}): {hint}"
        ) from None
    deployments = json.loads(response.data).get("items", [])
    found = storage_from_operators(deployments, namespace)
    if found is None:
        what = "no Reelkube operator Deployment" if not deployments else "no operator with a storage.bucket"
        raise ClientError(f"{what} watches namespace {namespace}: {hint}")
    return found
