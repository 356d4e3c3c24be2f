"""Operator settings, read from environment variables that the Helm chart sets.

Every value has a default that works on a plain cluster; structured values (node selectors,
tolerations, per-kind resources) are JSON in the variable.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reelkube.api import pod_contract
from reelkube.api.kinds import PodResources
from reelkube.api.output import MAX_CHUNKS
from reelkube.api.provider_secrets import ProviderSecrets, provider_secrets_from_env
from reelkube.controller.log_format import LOG_FORMATS
from reelkube.input_policy import InputPolicy
from reelkube.storage.tenancy import ChartStorage, parse_read_prefixes

ENV_PREFIX = "REELKUBE_"


@dataclass(frozen=True)
class StorageDefaults:
    """Where outputs go when a resource names no storage of its own."""

    endpoint_url: str | None = None
    bucket: str | None = None
    prefix: str = "reelkube"
    region: str = "us-east-1"
    path_style: bool = True
    credentials_secret: str | None = None
    """Secret (looked up in each resource's namespace) with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."""
    presign_expiry_seconds: int = 86400
    allow_spec_storage: bool = False
    """The chart's ``storage.allowSpecStorage``: may ``spec.storage`` name its own bucket or
    endpoint (with its own credentials Secret)? False: only a prefix in its namespace's area."""

    def chart_storage(self) -> ChartStorage:
        """These defaults as :func:`reelkube.storage.tenancy.check_spec_storage` compares them."""
        return ChartStorage(
            bucket=self.bucket,
            prefix=self.prefix,
            endpoint_url=self.endpoint_url,
            region=self.region,
            allow_spec_storage=self.allow_spec_storage,
        )


@dataclass(frozen=True)
class InputDefaults:
    """The chart's ``inputs.*``: what render pods may fetch and where the operator may post
    webhooks (the same destination rules; see :class:`reelkube.input_policy.InputPolicy`)."""

    allowed_hosts: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    denied_cidrs: tuple[str, ...] = ()
    cluster_cidrs: tuple[str, ...] = ()
    """The cluster's Service and pod ranges (refused like private ranges)."""
    asset_dir: str = pod_contract.DEFAULT_ASSET_DIR
    """The renderer image's asset folder, where relative input paths resolve."""
    s3_read_prefixes: tuple[str, ...] = ()
    """The chart's ``inputs.s3ReadPrefixes``: ``bucket[/prefix]`` readable as ``s3://`` inputs
    besides the resource's own namespace area."""
    api_server: str | None = None
    """The API server's address as the operator's pod sees it (``KUBERNETES_SERVICE_HOST``),
    always refused as a webhook destination; a render pod adds its own."""

    def pod_env(self) -> dict[str, str]:
        """These values as the render container's environment (the pod contract's names)."""
        return pod_contract.inputs_env(
            allowed_hosts=self.allowed_hosts,
            allowed_cidrs=self.allowed_cidrs,
            denied_cidrs=self.denied_cidrs,
            cluster_cidrs=self.cluster_cidrs,
            asset_dir=self.asset_dir,
            s3_read_prefixes=self.s3_read_prefixes,
        )

    def destination_policy(self) -> InputPolicy:
        """The policy webhook URLs are checked against (no local files, no asset folder)."""
        return InputPolicy.cluster(
            asset_dir=None,
            allowed_hosts=self.allowed_hosts,
            allowed_cidrs=self.allowed_cidrs,
            denied_cidrs=self.denied_cidrs,
            cluster_cidrs=self.cluster_cidrs + ((self.api_server,) if self.api_server else ()),
        )


@dataclass(frozen=True)
class LeaderElectionSettings:
    """The chart's ``operator.leaderElection``: which Lease the replicas contend for, and its
    timings (see :mod:`reelkube.controller.leadership`). Off, the operator starts at once."""

    enabled: bool = False
    lease_name: str = "reelkube-operator"
    namespace: str | None = None
    """The Lease's namespace: the release's (``REELKUBE_LEASE_NAMESPACE``)."""
    identity: str = "reelkube-operator"
    """This replica's name in the Lease: ``REELKUBE_POD_NAME``, else the host name (in a pod, the
    pod's name)."""
    lease_seconds: int = 10
    renew_deadline_seconds: int = 7
    retry_seconds: int = 2


@dataclass(frozen=True)
class OperatorSettings:
    """Everything the operator needs to build Jobs and run, from the chart's values."""

    renderer_image: str = "reelkube/renderer:dev"
    image_pull_policy: str = "IfNotPresent"
    default_resources: Mapping[str, PodResources] = field(default_factory=dict)
    """Per kind (``RenderJob``, ``TTSJob``): overrides of the registry's built-in defaults."""
    tmp_size_limit: str = "1Gi"
    storage: StorageDefaults = field(default_factory=StorageDefaults)
    inputs: InputDefaults = field(default_factory=InputDefaults)
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[Mapping[str, Any], ...] = ()
    gpu_runtime_class: str | None = None
    job_node_selector: Mapping[str, str] = field(default_factory=dict)
    """Node selector for every render pod (e.g. a node pool; the benchmark uses kwok's fake node)."""
    job_tolerations: tuple[Mapping[str, Any], ...] = ()
    max_running_jobs: int = 0
    """Most RenderJob Jobs running at once across the watched namespaces; 0 means no limit."""
    max_running_tts: int = 0
    """Most TTSJob Jobs running at once across the watched namespaces, a queue of their own
    (narration never waits behind renders); 0 means no limit."""
    max_running_per_namespace: int = 0
    """Most Jobs running at once per namespace, in each queue; 0 means no limit. A Namespace's
    ``reelkube.io/max-running`` annotation overrides it."""
    stall_seconds: int = 600
    """A running pod whose reported progress stands still this long is failed (NoProgress) and
    its Job deleted; 0 turns the check off."""
    max_chunks: int = 8
    """The chart's ``jobs.maxChunks``: most windows (and so parallel pods) one chunked render is
    split into, whatever ``spec.output.chunks`` asks."""
    min_chunk_seconds: float = 10.0
    """The chart's ``jobs.minChunkSeconds``: ``chunks: auto`` gives each window at least this
    much of the timeline."""
    chunk_cache_ttl_seconds: int = 7 * 86400
    """The chart's ``jobs.chunkCacheTTLSeconds``: a cached segment older than this is a miss,
    deleted and rendered again by the chunk pod that finds it."""
    job_ttl_seconds: int = 3600
    """``ttlSecondsAfterFinished`` of each Job (its status is copied to the resource first)."""
    termination_grace_seconds: int = 30
    watch_namespaces: tuple[str, ...] = ()
    """Empty means cluster-wide."""
    metrics_port: int = 8000
    liveness_port: int = 8080
    log_level: str = "INFO"
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, with namespace and name as fields)."""
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)
    provider_secrets: ProviderSecrets = field(default_factory=ProviderSecrets)
    """The chart's ``stock.pexels`` and ``speech.openai``: Secrets render pods take API keys from."""

    def cluster_limit(self, kind: str) -> int:
        """The cluster-wide limit of ``kind``'s queue (0: none)."""
        return self.max_running_tts if kind == "TTSJob" else self.max_running_jobs


def _json(env: Mapping[str, str], name: str, default: Any) -> Any:
    raw = env.get(ENV_PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ENV_PREFIX}{name} is not valid JSON: {exc}") from exc


def _str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(ENV_PREFIX + name, "").strip()
    return value or default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(ENV_PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV_PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name} must be a number, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(ENV_PREFIX + name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENV_PREFIX}{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(variable, "").split(",") if item.strip())


def _cidrs(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    """A comma list of CIDRs (a bare address is one host), each checked now."""
    values = _list(env, variable)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ValueError(f"{variable}: {value!r} is not a CIDR or an IP address") from exc
    return values


def inputs_from_env(env: Mapping[str, str]) -> InputDefaults:
    """The chart's ``inputs.*`` (the pod contract's variables); ValueError naming a bad one."""
    return InputDefaults(
        allowed_hosts=_list(env, pod_contract.INPUTS_ALLOWED_HOSTS_ENV),
        allowed_cidrs=_cidrs(env, pod_contract.INPUTS_ALLOWED_CIDRS_ENV),
        denied_cidrs=_cidrs(env, pod_contract.INPUTS_DENIED_CIDRS_ENV),
        cluster_cidrs=_cidrs(env, pod_contract.INPUTS_CLUSTER_CIDRS_ENV),
        asset_dir=env.get(pod_contract.ASSET_DIR_ENV, "").strip() or pod_contract.DEFAULT_ASSET_DIR,
        s3_read_prefixes=_read_prefixes(env),
        api_server=env.get("KUBERNETES_SERVICE_HOST", "").strip() or None,
    )


def _read_prefixes(env: Mapping[str, str]) -> tuple[str, ...]:
    """``inputs.s3ReadPrefixes``, each checked now (a bad entry fails the operator's start)."""
    values = _list(env, pod_contract.INPUTS_S3_READ_PREFIXES_ENV)
    parse_read_prefixes(values)
    return values


def _resources(raw: Any) -> dict[str, PodResources]:
    if not isinstance(raw, dict):
        raise ValueError(f"{ENV_PREFIX}DEFAULT_RESOURCES must be a JSON object of kind -> resources")
    out: dict[str, PodResources] = {}
    for kind, values in raw.items():
        out[kind] = PodResources(
            cpu=str(values.get("cpu", "")),
            memory=str(values.get("memory", "")),
            ephemeral_storage=str(values.get("ephemeralStorage", "")),
        )
    return out


def leader_election_from_env(env: Mapping[str, str]) -> LeaderElectionSettings:
    """The chart's ``operator.leaderElection``; ValueError when it is on without a namespace, or
    when the timings would let a holder act after its Lease expired."""
    election = LeaderElectionSettings(
        enabled=_bool(env, "LEADER_ELECTION", False),
        lease_name=_str(env, "LEASE_NAME", "reelkube-operator") or "reelkube-operator",
        namespace=_str(env, "LEASE_NAMESPACE"),
        identity=_str(env, "POD_NAME") or env.get("HOSTNAME", "").strip() or "reelkube-operator",
        lease_seconds=_int(env, "LEASE_DURATION_SECONDS", 10),
        renew_deadline_seconds=_int(env, "LEASE_RENEW_DEADLINE_SECONDS", 7),
        retry_seconds=_int(env, "LEASE_RETRY_SECONDS", 2),
    )
    if not election.enabled:
        return election
    if not election.namespace:
        raise ValueError(f"{ENV_PREFIX}LEADER_ELECTION needs {ENV_PREFIX}LEASE_NAMESPACE")
    if not 0 < election.retry_seconds < election.renew_deadline_seconds < election.lease_seconds:
        raise ValueError(
            f"{ENV_PREFIX}LEASE_RETRY_SECONDS < {ENV_PREFIX}LEASE_RENEW_DEADLINE_SECONDS <"
            f" {ENV_PREFIX}LEASE_DURATION_SECONDS must hold (and all > 0), got {election.retry_seconds},"
            f" {election.renew_deadline_seconds}, {election.lease_seconds}"
        )
    return election


def settings_from_env(env: Mapping[str, str]) -> OperatorSettings:
    """Parse :class:`OperatorSettings` from ``env`` (normally ``os.environ``).

    Raises ValueError naming the variable when a value cannot be parsed, so a bad chart value
    fails the operator's start with a message rather than a wrong Job later.
    """
    storage = StorageDefaults(
        endpoint_url=_str(env, "STORAGE_ENDPOINT"),
        bucket=_str(env, "STORAGE_BUCKET"),
        prefix=_str(env, "STORAGE_PREFIX", "reelkube") or "reelkube",
        region=_str(env, "STORAGE_REGION", "us-east-1") or "us-east-1",
        path_style=_bool(env, "STORAGE_PATH_STYLE", True),
        credentials_secret=_str(env, "STORAGE_CREDENTIALS_SECRET"),
        presign_expiry_seconds=_int(env, "PRESIGN_EXPIRY_SECONDS", 86400),
        allow_spec_storage=_bool(env, "STORAGE_ALLOW_SPEC_STORAGE", False),
    )
    namespaces = tuple(n.strip() for n in (_str(env, "WATCH_NAMESPACES", "") or "").split(",") if n.strip())
    settings = OperatorSettings(
        renderer_image=_str(env, "RENDERER_IMAGE", "reelkube/renderer:dev") or "",
        image_pull_policy=_str(env, "IMAGE_PULL_POLICY", "IfNotPresent") or "IfNotPresent",
        default_resources=_resources(_json(env, "DEFAULT_RESOURCES", {})),
        tmp_size_limit=_str(env, "TMP_SIZE_LIMIT", "1Gi") or "1Gi",
        storage=storage,
        inputs=inputs_from_env(env),
        gpu_node_selector=dict(_json(env, "GPU_NODE_SELECTOR", {})),
        gpu_tolerations=tuple(_json(env, "GPU_TOLERATIONS", [])),
        gpu_runtime_class=_str(env, "GPU_RUNTIME_CLASS"),
        job_node_selector=dict(_json(env, "JOB_NODE_SELECTOR", {})),
        job_tolerations=tuple(_json(env, "JOB_TOLERATIONS", [])),
        max_running_jobs=_int(env, "MAX_RUNNING_JOBS", 0),
        max_running_tts=_int(env, "MAX_RUNNING_TTS", 0),
        max_running_per_namespace=_int(env, "MAX_RUNNING_PER_NAMESPACE", 0),
        job_ttl_seconds=_int(env, "JOB_TTL_SECONDS", 3600),
        stall_seconds=_int(env, "STALL_SECONDS", 600),
        max_chunks=_int(env, "MAX_CHUNKS", 8),
        min_chunk_seconds=_float(env, "MIN_CHUNK_SECONDS", 10.0),
        chunk_cache_ttl_seconds=_int(env, "CHUNK_CACHE_TTL_SECONDS", 7 * 86400),
        termination_grace_seconds=_int(env, "TERMINATION_GRACE_SECONDS", 30),
        watch_namespaces=namespaces,
        metrics_port=_int(env, "METRICS_PORT", 8000),
        liveness_port=_int(env, "LIVENESS_PORT", 8080),
        log_level=(_str(env, "LOG_LEVEL", "INFO") or "INFO").upper(),
        log_format=(_str(env, "LOG_FORMAT", "text") or "text").lower(),
        leader_election=leader_election_from_env(env),
        provider_secrets=provider_secrets_from_env(env),
    )
    for name, value in (
        ("MAX_RUNNING_JOBS", settings.max_running_jobs),
        ("MAX_RUNNING_TTS", settings.max_running_tts),
        ("MAX_RUNNING_PER_NAMESPACE", settings.max_running_per_namespace),
        ("STALL_SECONDS", settings.stall_seconds),
    ):
        if value < 0:
            raise ValueError(f"{ENV_PREFIX}{name} must be >= 0")
    if not 1 <= settings.max_chunks <= MAX_CHUNKS:
        raise ValueError(f"{ENV_PREFIX}MAX_CHUNKS must be from 1 to {MAX_CHUNKS}")
    if settings.min_chunk_seconds <= 0 or settings.chunk_cache_ttl_seconds <= 0:
        raise ValueError(f"{ENV_PREFIX}MIN_CHUNK_SECONDS and {ENV_PREFIX}CHUNK_CACHE_TTL_SECONDS must be > 0")
    if settings.storage.presign_expiry_seconds < 60:
        raise ValueError(f"{ENV_PREFIX}PRESIGN_EXPIRY_SECONDS must be at least 60")
    if settings.log_format not in LOG_FORMATS:
        raise ValueError(f"{ENV_PREFIX}LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    return settings
