"""The contract between the operator and the render pod, in one place both sides import.

The operator (:mod:`reelkube.controller`) builds a Job whose container reads the resource from a
mounted file and its defaults from environment variables; the in-pod runner
(:mod:`reelkube.pipeline`) reads them back, exits with one of the codes below, and explains a
failure in the termination message that the operator parses into the status. Neither side
spells any of these names or numbers on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reelkube.api.common import StorageSpec

# --- exit codes ---------------------------------------------------------------------------

EXIT_OK = 0
EXIT_FAILED = 1
"""Failed in a way a retry may fix (ffmpeg, storage, timeouts)."""
EXIT_BAD_INPUT = 2
"""Failed in a way a retry cannot fix (bad spec, input missing, too large or unreadable): the
Job's podFailurePolicy fails the Job at once on this code."""
EXIT_CANCELED = 143
"""Stopped by SIGTERM (pod or Job deleted, deadline reached, node drained): the runner's own exit
(termination message reason ``Canceled``), or the signal's default action before the runner set
its handler (no message). Not the user's cancel, which the operator decides and reports itself: a
Job that fails on this exit is reported as reason ``PodStopped``."""
EXIT_KILLED = 137
"""SIGKILL, never written by the runner: the kernel's OOM kill (the kubelet says OOMKilled), or
a pod that outlived its grace period. The Job fails at once on it (an OOM recurs under the same
memory limit), except for a disrupted pod, which is retried without counting."""

# --- the container and its files ----------------------------------------------------------

CONTAINER_NAME = "reelkube"
SPEC_DIR = "/etc/reelkube"
"""Where the resource's ConfigMap is mounted."""
RESOURCE_FILE = "resource.json"
RESOURCE_PATH = f"{SPEC_DIR}/{RESOURCE_FILE}"
"""The resource as the pod reads it (``reelkube job --resource RESOURCE_PATH``)."""
WORK_DIR = "/work"
WORK_DIR_ENV = "REELKUBE_WORK_DIR"
"""Scratch directory for inputs and outputs."""

# --- chunked renders ------------------------------------------------------------------------

CHUNK_ROLE_ENV = "REELKUBE_CHUNK_ROLE"
"""Set on the pods of a chunked render: :data:`CHUNK_ROLE_SEGMENT` (one window, in the Indexed
Job) or :data:`CHUNK_ROLE_MERGE` (the join, in the merge Job). Unset: a single-pod render."""
CHUNK_ROLE_SEGMENT = "segment"
CHUNK_ROLE_MERGE = "merge"
CHUNK_COUNT_ENV = "REELKUBE_CHUNK_COUNT"
"""How many windows the operator split the render into (the Indexed Job's completions)."""
CHUNK_INDEX_ENV = "JOB_COMPLETION_INDEX"
"""The window a segment pod renders: set by Kubernetes on the pods of an Indexed Job."""
CHUNK_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
"""The same index as a pod label (the operator counts attempts per index by it)."""
CHUNK_CACHE_TTL_ENV = "REELKUBE_CHUNK_CACHE_TTL_SECONDS"
"""The chart's jobs.chunkCacheTTLSeconds: cached segments older than this are misses."""
CHUNK_RENDER_SHARE = 95
"""Percent of a chunked render's ``status.progress`` that its windows' frames account for (the
operator sums them); the merge pod reports the rest, from here to 100."""


# --- the termination message --------------------------------------------------------------

TERMINATION_LOG_PATH = "/dev/termination-log"
TERMINATION_LOG_ENV = "REELKUBE_TERMINATION_LOG"
"""Overrides :data:`TERMINATION_LOG_PATH` (outside a pod)."""
TERMINATION_LIMIT = 4096
"""Bytes of the termination message the kubelet keeps."""


@dataclass(frozen=True)
class TerminationMessage:
    """Why the runner failed, as JSON ``{"reason", "message"}`` in the termination log."""

    reason: str
    """Machine-readable cause (a ``ReelkubeError`` reason, e.g. InputNotFound)."""
    message: str
    """What the user can act on."""

    def encode(self) -> str:
        """The JSON text, within :data:`TERMINATION_LIMIT` bytes: a long message keeps its end
        (where the cause usually is), shortened by halves behind an ellipsis."""
        message = self.message
        while True:
            text = json.dumps({"reason": self.reason, "message": message})
            if len(text.encode()) <= TERMINATION_LIMIT or not message:
                return text
            message = "…" + message[-(len(message) // 2) :]

    @classmethod
    def parse(cls, raw: str) -> TerminationMessage | None:
        """The message the runner wrote, or None when ``raw`` is not one (a crash's log tail)."""
        try:
            parsed = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(parsed, dict) or not parsed.get("reason"):
            return None
        return cls(reason=str(parsed["reason"]), message=str(parsed.get("message") or parsed["reason"]))


# --- default storage ----------------------------------------------------------------------

STORAGE_ENDPOINT_ENV = "REELKUBE_STORAGE_ENDPOINT"
S3_ENDPOINT_URL_ENV = "REELKUBE_S3_ENDPOINT_URL"
"""The storage module's name for the endpoint of ``s3://`` inputs without a spec of their own."""
STORAGE_BUCKET_ENV = "REELKUBE_STORAGE_BUCKET"
STORAGE_PREFIX_ENV = "REELKUBE_STORAGE_PREFIX"
STORAGE_REGION_ENV = "REELKUBE_STORAGE_REGION"
STORAGE_PATH_STYLE_ENV = "REELKUBE_STORAGE_PATH_STYLE"
PRESIGN_EXPIRY_ENV = "REELKUBE_PRESIGN_EXPIRY_SECONDS"


def storage_env(
    *,
    bucket: str | None,
    prefix: str,
    endpoint_url: str | None,
    region: str,
    path_style: bool,
    presign_expiry_seconds: int,
) -> dict[str, str]:
    """The operator's default storage as the pod's environment (unset values left out)."""
    env = {
        STORAGE_ENDPOINT_ENV: endpoint_url,
        S3_ENDPOINT_URL_ENV: endpoint_url,
        STORAGE_BUCKET_ENV: bucket,
        STORAGE_PREFIX_ENV: prefix,
        STORAGE_REGION_ENV: region,
        STORAGE_PATH_STYLE_ENV: "true" if path_style else "false",
        PRESIGN_EXPIRY_ENV: str(presign_expiry_seconds),
    }
    return {name: value for name, value in env.items() if value}


def storage_from_env(environ: Mapping[str, str]) -> StorageSpec | None:
    """The default storage :func:`storage_env` passed to the pod; None when no bucket is set."""
    bucket = environ.get(STORAGE_BUCKET_ENV)
    if not bucket:
        return None
    return StorageSpec(
        bucket=bucket,
        prefix=environ.get(STORAGE_PREFIX_ENV) or "reelkube",
        endpointUrl=environ.get(STORAGE_ENDPOINT_ENV) or None,
        region=environ.get(STORAGE_REGION_ENV) or "us-east-1",
        pathStyle=(environ.get(STORAGE_PATH_STYLE_ENV) or "true").lower() == "true",
        presignExpirySeconds=int(environ.get(PRESIGN_EXPIRY_ENV) or 86400),
    )


# --- the input policy ---------------------------------------------------------------------

INPUTS_ALLOWED_HOSTS_ENV = "REELKUBE_INPUTS_ALLOWED_HOSTS"
"""Comma list: hosts (exact, or ``*.suffix``) inputs may reach whatever they resolve to."""
INPUTS_ALLOWED_CIDRS_ENV = "REELKUBE_INPUTS_ALLOWED_CIDRS"
"""Comma list: ranges inputs may reach although the default refusals name them."""
INPUTS_DENIED_CIDRS_ENV = "REELKUBE_INPUTS_DENIED_CIDRS"
"""Comma list: ranges always refused, allowed hosts and ranges notwithstanding."""
INPUTS_CLUSTER_CIDRS_ENV = "REELKUBE_INPUTS_CLUSTER_CIDRS"
"""Comma list: the cluster's Service and pod ranges, refused like private ones."""
ASSET_DIR_ENV = "REELKUBE_ASSET_DIR"
"""The renderer image's read-only asset folder, where relative input paths resolve."""
DEFAULT_ASSET_DIR = "/opt/reelkube/assets"
INPUTS_S3_READ_PREFIXES_ENV = "REELKUBE_INPUTS_S3_READ_PREFIXES"
"""Comma list of ``bucket`` or ``bucket/prefix``: where ``s3://`` inputs may be read, besides
the resource's own namespace area."""
NAMESPACE_ENV = "REELKUBE_NAMESPACE"
"""The pod's namespace (downward API): its own area of the storage, readable as input."""
CPU_LIMIT_ENV = "REELKUBE_CPU_LIMIT_MILLICORES"
"""The render container's CPU limit in millicores (downward API). ffmpeg's encoders size their
threads by the node's cores, which a limit does not hide: the pod sizes them by its limit."""


def inputs_env(
    *,
    allowed_hosts: Sequence[str] = (),
    allowed_cidrs: Sequence[str] = (),
    denied_cidrs: Sequence[str] = (),
    cluster_cidrs: Sequence[str] = (),
    asset_dir: str = DEFAULT_ASSET_DIR,
    s3_read_prefixes: Sequence[str] = (),
) -> dict[str, str]:
    """The chart's ``inputs.*`` as the pod's environment (empty lists left out), read back by
    :meth:`reelkube.input_policy.InputPolicy.from_env`."""
    env = {
        INPUTS_ALLOWED_HOSTS_ENV: ",".join(allowed_hosts),
        INPUTS_ALLOWED_CIDRS_ENV: ",".join(allowed_cidrs),
        INPUTS_DENIED_CIDRS_ENV: ",".join(denied_cidrs),
        INPUTS_CLUSTER_CIDRS_ENV: ",".join(cluster_cidrs),
        ASSET_DIR_ENV: asset_dir,
        INPUTS_S3_READ_PREFIXES_ENV: ",".join(s3_read_prefixes),
    }
    return {name: value for name, value in env.items() if value}
