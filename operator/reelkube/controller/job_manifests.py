"""The Job that renders a resource, and the objects it needs: pure functions of a resource and
:class:`OperatorSettings` that return manifests.

Nothing here talks to a cluster; every function is unit-tested by comparing dicts. The objects
built for one resource (ConfigMap, ServiceAccount, Role, RoleBinding, Job) share one
deterministic name (:func:`child_name`), so the reconciler can find them again after any
restart, and a second create of the same Job is a 409, never a second Job.

The spec reaches the pod as a file (a ConfigMap mounted at
:data:`~reelkube.api.pod_contract.SPEC_DIR`), never through a templated shell string: the
container runs ``reelkube job --resource FILE`` with no shell. What the pod may rely on (paths,
environment, exit codes) is :mod:`reelkube.api.pod_contract`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from reelkube.api.common import API_VERSION, GROUP
from reelkube.api.kinds import PodResources, Resource, kind_of
from reelkube.api.output import known_length
from reelkube.api.pod_contract import (
    CHUNK_CACHE_TTL_ENV,
    CHUNK_COUNT_ENV,
    CHUNK_ROLE_ENV,
    CHUNK_ROLE_MERGE,
    CHUNK_ROLE_SEGMENT,
    CONTAINER_NAME,
    CPU_LIMIT_ENV,
    EXIT_BAD_INPUT,
    EXIT_CANCELED,
    EXIT_KILLED,
    NAMESPACE_ENV,
    RESOURCE_FILE,
    RESOURCE_PATH,
    SPEC_DIR,
    TERMINATION_LOG_PATH,
    WORK_DIR,
    WORK_DIR_ENV,
    storage_env,
)
from reelkube.api.renderjob import RenderJob
from reelkube.controller.settings import OperatorSettings
from reelkube.storage.tenancy import check_spec_storage

Manifest = dict[str, Any]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "reelkube"
NAME_LABEL = "reelkube.io/name"
KIND_LABEL = "reelkube.io/kind"
UID_LABEL = "reelkube.io/uid"
RESOURCE_ANNOTATION = "reelkube.io/resource"
"""The resource's full name (labels stop at 63 characters; names may be longer)."""
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
"""Kueue's label naming the LocalQueue of a Job (``spec.queueName``): Kueue manages only the
Jobs that carry it."""

RUNNER_UID = 10001

CHECKOV_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_15=the pull policy is the chart's image.renderer.pullPolicy",
    "checkov.io/skip2": "CKV_K8S_38=the pod patches its own resource's status with this token"
    " (its account may do nothing else)",
    "checkov.io/skip3": "CKV_K8S_43=the image is the chart's image.renderer.tag, which may be a digest",
    "checkov.io/skip4": "CKV2_K8S_6=render pods run in tenants' namespaces; their fetches are"
    " checked in-process by the input policy (inputs.*), and a namespace's NetworkPolicy is its owner's",
}
"""Exceptions to the checkov scan of the Job (tests/chart/test_checkov.py), each with its reason."""

_MAX_NAME = 63
_DIGEST_LEN = 10


def _uid(resource: Resource) -> str:
    uid = resource.metadata.uid
    if not uid:
        raise ValueError(f"{resource.kind} {resource.metadata.namespace}/{resource.metadata.name} has no uid")
    return uid


def child_name(resource: Resource) -> str:
    """The name shared by the Job, ConfigMap, ServiceAccount, Role and RoleBinding of ``resource``.

    DNS-1123 label (at most 63 characters) from the kind's prefix, the resource's name and a
    digest of kind, name and uid: stable for one object, different for a re-created one.
    """
    kind = kind_of(resource)
    name = resource.metadata.name
    digest = hashlib.sha256(f"{kind.kind}/{name}/{_uid(resource)}".encode()).hexdigest()[:_DIGEST_LEN]
    room = _MAX_NAME - len(kind.prefix) - len(digest) - 2
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower())[:room].strip("-")
    return f"{kind.prefix}-{slug}-{digest}" if slug else f"{kind.prefix}-{digest}"


CHUNK_JOB_SUFFIX = "chunks"
MERGE_JOB_SUFFIX = "merge"
_INDEX_ROOM = 3
"""Characters kept free in a chunk Job's name: its pods' hostnames are ``<job>-<index>``
(a DNS label of at most 63 characters), and an index is at most two digits."""


def job_name_with(resource: Resource, suffix: str) -> str:
    """:func:`child_name` with ``-suffix``, shortened so that the chunk Job's pod hostnames
    (``<name>-<index>``) still fit in a DNS label."""
    base = child_name(resource)
    room = _MAX_NAME - _INDEX_ROOM - len(suffix) - 1
    if len(base) > room:
        # Keep the digest (the uniqueness) and cut the slug.
        prefix, _, digest = base.rpartition("-")
        base = f"{prefix[: room - len(digest) - 1].rstrip('-')}-{digest}"
    return f"{base}-{suffix}"


def merge_job_name(resource: Resource) -> str:
    """The name of a chunked render's merge Job."""
    return job_name_with(resource, MERGE_JOB_SUFFIX)


def first_job_name(resource: Resource, chunks: int) -> str:
    """The name of the Job a resource starts with: the chunk Job of a chunked render, else the
    single-pod Job (:func:`child_name`)."""
    return job_name_with(resource, CHUNK_JOB_SUFFIX) if chunks > 1 else child_name(resource)


def chunk_count_for(resource: Resource, settings: OperatorSettings) -> int:
    """How many windows ``resource`` renders in: 1 (one pod) unless ``spec.output.chunks``
    asks for more on a chunkable format. ``auto`` needs a length the spec fixes (a timeline
    with durations): a template's length is known only once it is expanded, so ``auto`` on a
    template renders in one pod, while a number splits it into that many windows (at most
    ``jobs.maxChunks``)."""
    if not kind_of(resource).chunkable or not isinstance(resource, RenderJob):
        return 1
    output = resource.spec.output
    requested = output.chunks_requested()
    if requested is None or requested == 1:
        return 1
    from reelkube.engine.chunks import chunk_count

    timeline = resource.spec.timeline
    length = known_length(timeline) if timeline is not None else 0.0
    if length > 0:
        return chunk_count(
            length,
            requested,
            min_seconds=settings.min_chunk_seconds,
            max_chunks=settings.max_chunks,
            format=output.format,
        )
    if requested == "auto":
        return 1
    return max(1, min(requested, settings.max_chunks))


def labels_for(resource: Resource) -> dict[str, str]:
    """Labels on every object built for ``resource``; the Job/pod watchers select on them."""
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        NAME_LABEL: resource.metadata.name[:63].rstrip("-_."),
        KIND_LABEL: resource.kind,
        UID_LABEL: _uid(resource),
    }


def owner_reference(resource: Resource) -> dict[str, Any]:
    """Controller owner reference: deleting the resource garbage-collects what was built for it."""
    return {
        "apiVersion": API_VERSION,
        "kind": resource.kind,
        "name": resource.metadata.name,
        "uid": _uid(resource),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(resource: Resource) -> dict[str, Any]:
    return {
        "name": child_name(resource),
        "namespace": resource.metadata.namespace,
        "labels": labels_for(resource),
        "annotations": {RESOURCE_ANNOTATION: resource.metadata.name},
        "ownerReferences": [owner_reference(resource)],
    }


def resource_document(resource: Resource) -> dict[str, Any]:
    """The resource as the pod reads it: identity plus the spec exactly as the user gave it."""
    meta = resource.metadata
    return {
        "apiVersion": resource.apiVersion,
        "kind": resource.kind,
        "metadata": {
            "name": meta.name,
            "namespace": meta.namespace,
            "uid": meta.uid,
            "generation": meta.generation,
        },
        "spec": resource.spec.model_dump(mode="json", exclude_unset=True),
    }


def build_spec_configmap(resource: Resource, settings: OperatorSettings) -> Manifest:
    """ConfigMap holding the resource as JSON, mounted into the pod as ``resource.json``."""
    del settings  # same for every configuration; kept for a uniform builder signature
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(resource),
        "immutable": True,
        "data": {RESOURCE_FILE: json.dumps(resource_document(resource), indent=2, sort_keys=True)},
    }


def build_service_account(resource: Resource, settings: OperatorSettings) -> Manifest:
    """The pod's own identity; its token is mounted only into this resource's pod."""
    del settings
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(resource),
        # The pod opts in explicitly; nothing else using this account gets a token.
        "automountServiceAccountToken": False,
    }


def build_role(resource: Resource, settings: OperatorSettings) -> Manifest:
    """Role allowing get/patch of this one resource's status subresource, nothing else."""
    del settings
    kind = kind_of(resource)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(resource),
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": [f"{kind.plural}/status"],
                "resourceNames": [resource.metadata.name],
                "verbs": ["get", "patch"],
            }
        ],
    }


def build_role_binding(resource: Resource, settings: OperatorSettings) -> Manifest:
    """Binds :func:`build_role` to :func:`build_service_account`."""
    del settings
    name = child_name(resource)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(resource),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": resource.metadata.namespace}],
    }


def _storage_env(resource: Resource, settings: OperatorSettings) -> list[dict[str, Any]]:
    defaults = settings.storage
    plain = storage_env(
        bucket=defaults.bucket,
        prefix=defaults.prefix,
        endpoint_url=defaults.endpoint_url,
        region=defaults.region,
        path_style=defaults.path_style,
        presign_expiry_seconds=defaults.presign_expiry_seconds,
    )
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in plain.items()]
    spec_storage = resource.spec.storage
    # StorageForbidden before any object exists: the chart decides what a tenant may choose,
    # and the default credentials never reach storage the chart did not configure.
    check_spec_storage(spec_storage, resource.metadata.namespace, defaults.chart_storage())
    secret = (spec_storage and spec_storage.credentialsSecret) or defaults.credentials_secret
    if secret:
        # Credentials come from a Secret in the resource's namespace, never from the spec.
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.append(
                {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
            )
    return env


def pod_resources(resource: Resource, settings: OperatorSettings) -> PodResources:
    """Pod resources: the spec's, else the chart's default for this kind, else built-in."""
    builtin = kind_of(resource).default_resources
    chart = settings.default_resources.get(resource.kind)
    spec = resource.spec.resources
    return PodResources(
        cpu=(spec and spec.cpu) or (chart and chart.cpu) or builtin.cpu,
        memory=(spec and spec.memory) or (chart and chart.memory) or builtin.memory,
        ephemeral_storage=(spec and spec.ephemeralStorage)
        or (chart and chart.ephemeral_storage)
        or builtin.ephemeral_storage,
    )


def _resource_quantities(resource: Resource, settings: OperatorSettings, gpu: bool) -> dict[str, Any]:
    res = pod_resources(resource, settings)
    quantities: dict[str, str] = {
        "cpu": res.cpu,
        "memory": res.memory,
        "ephemeral-storage": res.ephemeral_storage,
    }
    if gpu:
        quantities["nvidia.com/gpu"] = "1"
    # Requests equal limits: a render uses what it asks for, and Guaranteed QoS keeps it from
    # being the first evicted under node pressure.
    return {"requests": dict(quantities), "limits": dict(quantities)}


def _pod_template(
    resource: Resource, settings: OperatorSettings, extra_env: list[dict[str, Any]]
) -> dict[str, Any]:
    """The render pod: the one of a single render, or a chunk or merge pod (``extra_env``)."""
    name = child_name(resource)
    labels = labels_for(resource)
    gpu = kind_of(resource).wants_gpu(resource)
    res = pod_resources(resource, settings)
    node_selector = {**settings.job_node_selector, **(settings.gpu_node_selector if gpu else {})}
    tolerations = [dict(t) for t in settings.job_tolerations]
    if gpu:
        tolerations += [dict(t) for t in settings.gpu_tolerations]

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": settings.renderer_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["reelkube", "job", "--resource", RESOURCE_PATH],
        "workingDir": WORK_DIR,
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"},
            {"name": WORK_DIR_ENV, "value": WORK_DIR},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            # The pod's own namespace area is readable as s3:// input (storage.tenancy).
            {"name": NAMESPACE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            # The encoder's threads follow the CPU limit, not the node's cores (encoders).
            {
                "name": CPU_LIMIT_ENV,
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": CONTAINER_NAME,
                        "resource": "limits.cpu",
                        "divisor": "1m",
                    }
                },
            },
            *_storage_env(resource, settings),
            # The chart's inputs.*: the pod builds its input policy from them (pod_contract).
            *({"name": k, "value": v} for k, v in settings.inputs.pod_env().items()),
            # API keys of stock media and speech services, from Secrets the chart names.
            *settings.provider_secrets.pod_env(),
            *extra_env,
        ],
        "resources": _resource_quantities(resource, settings, gpu),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePath": TERMINATION_LOG_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
            {"name": "work", "mountPath": WORK_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": name,
        # The token is mounted only because this account can do nothing but patch this status.
        "automountServiceAccountToken": True,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": settings.termination_grace_seconds,
        # The pause container is the pod's PID 1, not the runner. A PID 1 drops every signal it
        # has no handler for, and the runner has none during its first seconds (Python starting,
        # its imports: 1-4 s at a quarter core): a pod deleted then rendered on until the
        # kubelet's SIGKILL, exit 137, which the podFailurePolicy fails as out of memory. As an
        # ordinary process the runner ends at once on such a SIGTERM, exit 143, and is retried.
        "shareProcessNamespace": True,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {
                "name": "spec",
                "configMap": {"name": name, "items": [{"key": RESOURCE_FILE, "path": RESOURCE_FILE}]},
            },
            {"name": "work", "emptyDir": {"sizeLimit": res.ephemeral_storage}},
            {"name": "tmp", "emptyDir": {"sizeLimit": settings.tmp_size_limit}},
        ],
    }
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if gpu and settings.gpu_runtime_class:
        pod_spec["runtimeClassName"] = settings.gpu_runtime_class
    return {
        "metadata": {"labels": labels, "annotations": {RESOURCE_ANNOTATION: resource.metadata.name}},
        "spec": pod_spec,
    }


def _failure_rules(permanent: str) -> list[dict[str, Any]]:
    """The podFailurePolicy: ``permanent`` (FailJob, or FailIndex for a chunk Job) on the exits
    a retry cannot fix; disruptions retried without counting."""
    return [
        # A bad spec or a missing input fails the same way on every retry.
        {
            "action": permanent,
            "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [EXIT_BAD_INPUT]},
        },
        # Evictions, preemptions and node loss are not the render's fault: retry without
        # counting. Before the 137 rule: a drained pod that outlives its grace period is
        # SIGKILLed (137) too, and the first matching rule wins.
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        # The kernel's OOM kill (137, reason OOMKilled, which a rule cannot match) recurs under
        # the same limit, so it is not retried. 137 is also SIGKILL after the grace period; the
        # runner exits within a second of SIGTERM (exit 143: it kills its tools rather than
        # waiting for them, and it is not the pod's PID 1, which would drop a SIGTERM that came
        # before its handler), so outside a disruption (ignored above) 137 means the limit.
        {
            "action": permanent,
            "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [EXIT_KILLED]},
        },
    ]


def _single_pod_rules(resource: Resource) -> list[dict[str, Any]]:
    """The podFailurePolicy of a Job of one pod (a render, a TTS job, a merge):
    :func:`_failure_rules`, and with ``spec.retries: 0`` FailJob on a stopped pod's exit 143.

    Without retries the Job fails on that pod either way; the rule only makes the Job's condition
    name the pod and its exit code (reason PodFailurePolicy). A pod deleted by hand is gone as
    soon as the Job controller has counted it, often before the operator sees the Job fail, and
    BackoffLimitExceeded alone does not say why (see job_observation's POD_STOPPED).
    """
    rules = _failure_rules("FailJob")
    if resource.spec.retries == 0:
        rules.append(
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [EXIT_CANCELED]},
            }
        )
    return rules


def _chunk_failure_rules() -> list[dict[str, Any]]:
    """The chunk Job's podFailurePolicy: :func:`_failure_rules` with FailIndex, and a window
    stopped by SIGTERM (exit 143: its pod deleted) re-run without counting against
    ``backoffLimitPerIndex``.

    A SIGTERM is never the window's own failure. Whoever ends the whole render does so through
    the Job (the operator deletes it on cancel or stall; a deadline or a failed index fails it),
    and then nothing is re-run; any other SIGTERM, such as a chunk pod deleted by hand, leaves a
    running render one window short, and that window must render again even with
    ``spec.retries: 0``. The Job's ``activeDeadlineSeconds`` still bounds the re-runs.
    """
    return [
        *_failure_rules("FailIndex"),
        {
            "action": "Ignore",
            "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [EXIT_CANCELED]},
        },
    ]


def _job_metadata(resource: Resource, name: str) -> dict[str, Any]:
    metadata = _metadata(resource)
    metadata["name"] = name
    metadata["annotations"] = {**metadata["annotations"], **CHECKOV_SKIPS}
    if resource.spec.queueName:
        metadata["labels"][KUEUE_QUEUE_LABEL] = resource.spec.queueName
    return metadata


def _kueue_suspension(resource: Resource) -> dict[str, Any]:
    """The Job spec's ``suspend`` of a resource handed to Kueue (``spec.queueName``): created
    suspended, with Kueue's label (:func:`_job_metadata`), no pod exists until Kueue admits the
    Job by unsuspending it. Kueue's webhook would suspend a labelled Job itself; creating it
    suspended keeps pods Kueue never counted from starting while its webhook is unavailable."""
    return {"suspend": True} if resource.spec.queueName else {}


def build_job(resource: Resource, settings: OperatorSettings) -> Manifest:
    """The batch/v1 Job that renders ``resource`` in one pod (see the module docstring)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _job_metadata(resource, child_name(resource)),
        "spec": {
            "backoffLimit": resource.spec.retries,
            "activeDeadlineSeconds": resource.spec.timeoutSeconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "completions": 1,
            "parallelism": 1,
            "podFailurePolicy": {"rules": _single_pod_rules(resource)},
            **_kueue_suspension(resource),
            "template": _pod_template(resource, settings, []),
        },
    }


def _chunk_env(role: str, chunks: int, settings: OperatorSettings) -> list[dict[str, Any]]:
    return [
        {"name": CHUNK_ROLE_ENV, "value": role},
        {"name": CHUNK_COUNT_ENV, "value": str(chunks)},
        {"name": CHUNK_CACHE_TTL_ENV, "value": str(settings.chunk_cache_ttl_seconds)},
    ]


def build_chunk_job(resource: Resource, settings: OperatorSettings, chunks: int) -> Manifest:
    """The Indexed Job rendering ``resource``'s ``chunks`` windows, one pod per index.

    Retries are per index (``backoffLimitPerIndex`` = spec.retries): a chunk lost with a node
    re-runs alone, and so does a window whose pod was deleted (exit 143, not counted: see
    :func:`_chunk_failure_rules`). A permanent exit fails its index at once (FailIndex), and one
    failed index fails the Job (``maxFailedIndexes: 0``), stopping the other pods: the render
    cannot succeed without every window. Parallelism is every window at once; ``jobs.maxChunks``
    caps the count, and the whole render holds one slot of the concurrency limits. Under Kueue
    (``spec.queueName``) it is admitted as one workload of ``chunks`` pods.
    """
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _job_metadata(resource, job_name_with(resource, CHUNK_JOB_SUFFIX)),
        "spec": {
            "completionMode": "Indexed",
            "completions": chunks,
            "parallelism": chunks,
            "backoffLimitPerIndex": resource.spec.retries,
            "maxFailedIndexes": 0,
            "activeDeadlineSeconds": resource.spec.timeoutSeconds,
            # The merge Job is owned by this one (so deleting it stops the merge too): it must
            # outlive the merge, which runs for at most spec.timeoutSeconds after it.
            "ttlSecondsAfterFinished": settings.job_ttl_seconds + resource.spec.timeoutSeconds,
            "podFailurePolicy": {"rules": _chunk_failure_rules()},
            **_kueue_suspension(resource),
            "template": _pod_template(resource, settings, _chunk_env(CHUNK_ROLE_SEGMENT, chunks, settings)),
        },
    }


def build_merge_job(
    resource: Resource, settings: OperatorSettings, chunks: int, chunk_job: Mapping[str, Any]
) -> Manifest:
    """The Job joining the segments once every index of ``chunk_job`` succeeded: it mixes the
    soundtrack once, joins the segments by stream copy, uploads the outputs like a single
    render and deletes the segments that are not cached.

    A Job of its own rather than a last step of index 0: no pod sits idle waiting for the
    others, and the merge retries (spec.retries) without re-rendering any window. It is owned by
    the resource (its controller) and by the chunk Job, so deleting the chunk Job (cancel,
    stall) stops the merge too. Under Kueue it waits for its own admission, in the same queue.
    """
    metadata = _job_metadata(resource, merge_job_name(resource))
    chunk_meta = chunk_job["metadata"]
    metadata["ownerReferences"] = [
        *metadata["ownerReferences"],
        {"apiVersion": "batch/v1", "kind": "Job", "name": chunk_meta["name"], "uid": chunk_meta["uid"]},
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": resource.spec.retries,
            "activeDeadlineSeconds": resource.spec.timeoutSeconds,
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "completions": 1,
            "parallelism": 1,
            "podFailurePolicy": {"rules": _single_pod_rules(resource)},
            **_kueue_suspension(resource),
            "template": _pod_template(resource, settings, _chunk_env(CHUNK_ROLE_MERGE, chunks, settings)),
        },
    }


def build_render_job(resource: Resource, settings: OperatorSettings) -> Manifest:
    """The first Job of ``resource``: the single-pod Job, or the chunk Job of a chunked render."""
    chunks = chunk_count_for(resource, settings)
    if chunks > 1:
        return build_chunk_job(resource, settings, chunks)
    return build_job(resource, settings)


CHILD_WAVES = (
    (build_spec_configmap, build_service_account, build_role),
    # The API server lets the operator bind a Role only after checking that the operator holds
    # every permission in it (escalation check), and that check needs the Role to exist: a
    # RoleBinding created beside its Role fails with 404 for any creator without `bind`.
    (build_role_binding,),
)
"""Objects a Job needs before it is created: each wave is created concurrently, in order."""
CHILD_BUILDERS = tuple(builder for wave in CHILD_WAVES for builder in wave)
"""The same objects, in creation order."""
