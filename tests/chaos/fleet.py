"""A batch of small real renders through the chart-installed operator, and what is checked after
faults: every resource terminal with the wanted outcome, one Job per render, every webhook event
delivered (duplicates only with the same id), in order, with a valid signature.

Shared by the fault-injection run (tests/chaos/run_chaos.py) and the failover cluster test
(tests/e2e/test_standby_cluster.py). The operator's active replica is the holder of its Lease.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from reelkube.webhooks.signing import whsec
from support.cluster import Cluster
from support.reelkube_cluster import SYSTEM_NS, create_storage_secret, managed_jobs
from support.webhooks import ReceivedRequest, WebhookReceiver

TERMINAL = ("Succeeded", "Failed", "Canceled")
EVENTS = ("queued", "started", "succeeded", "failed")
"""Subscribed by every render of the batch, in the order a life announces them."""
WEBHOOK_SECRET = b"chaos-webhook-secret"
HOOK_SECRET_NAME = "chaos-hook"
LEASE = "reelkube-operator"
OPERATOR_SELECTOR = "app.kubernetes.io/component=operator"


def tiny_render(
    name: str,
    namespace: str,
    webhook_url: str | None,
    *,
    seconds: float = 20,
    memory: str = "384Mi",
    retries: int = 3,
    preset: str = "medium",
    max_attempts: int | None = 12,
) -> dict[str, Any]:
    """A RenderJob of a few seconds of 160x90 video (one colour clip with a moving title), sized
    so several run at once on the 2-core test node. ``max_attempts``: the webhook's
    ``maxAttempts`` (12 spans about six minutes of backoff); None leaves the CRD's default."""
    spec: dict[str, Any] = {
        "timeline": {
            "width": 160,
            "height": 90,
            "tracks": [{"clips": [{"type": "color", "duration": seconds, "color": "#204060"}]}],
        },
        "output": {"thumbnail": False, "preset": preset},
        "resources": {"cpu": "250m", "memory": memory},
        "retries": retries,
    }
    if webhook_url:
        spec["webhook"] = {
            "url": webhook_url,
            "events": list(EVENTS),
            "secretRef": HOOK_SECRET_NAME,
        }
        if max_attempts is not None:
            spec["webhook"]["maxAttempts"] = max_attempts
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def create_namespace(cluster: Cluster, prefix: str = "chaos") -> str:
    """A fresh namespace with the S3 credentials and the webhook signing Secret."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    create_storage_secret(cluster, name)
    cluster.kubectl(
        "-n", name, "create", "secret", "generic", HOOK_SECRET_NAME,
        f"--from-literal=secret={WEBHOOK_SECRET.decode()}",
    )  # fmt: skip
    return name


# --- the operator's replicas ---------------------------------------------------------------


def lease_holder(cluster: Cluster) -> str | None:
    """The pod that holds the operator's Lease (the active replica), None when released."""
    proc = cluster.kubectl("-n", SYSTEM_NS, "get", "lease", LEASE, "-o", "json", check=False, timeout=20)
    if proc.returncode != 0:
        return None
    return (json.loads(proc.stdout).get("spec") or {}).get("holderIdentity") or None


def operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return list(cluster.kubectl_json("-n", SYSTEM_NS, "get", "pods", "-l", OPERATOR_SELECTOR)["items"])


def wait_for_leader(cluster: Cluster, other_than: str | None = None, timeout: float = 120) -> str:
    """Wait until a replica other than ``other_than`` holds the Lease and its pod is Ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lease_holder(cluster)
        if holder and holder != other_than:
            pods = {p["metadata"]["name"]: p for p in operator_pods(cluster)}
            pod = pods.get(holder)
            if pod and not pod["metadata"].get("deletionTimestamp"):
                return holder
        time.sleep(0.2)
    raise TimeoutError(f"no operator replica other than {other_than} took the Lease in {timeout:g} s")


def wait_for_standby(cluster: Cluster, timeout: float = 180) -> None:
    """Wait until every replica of the Deployment is Ready (the standby is back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = cluster.kubectl_json("-n", SYSTEM_NS, "get", "deployment", "reelkube")
        want = deployment["spec"]["replicas"]
        pods = [p for p in operator_pods(cluster) if not p["metadata"].get("deletionTimestamp")]
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        if len(ready) >= want and len(pods) == want:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the operator's replicas are not all Ready after {timeout:g} s")


def kill_active_operator(cluster: Cluster, *, force: bool = False) -> tuple[str, float]:
    """Delete the pod holding the Lease; return its name and the monotonic time of the delete.
    ``force``: no grace (the process gets no chance to hand the Lease over)."""
    holder = wait_for_leader(cluster)
    args = ["-n", SYSTEM_NS, "delete", "pod", holder, "--wait=false"]
    if force:
        args += ["--grace-period=0", "--force"]
    started = time.monotonic()
    cluster.kubectl(*args)
    return holder, started


# --- the batch and its checks ----------------------------------------------------------------


@dataclass
class RenderOutcome:
    """What one render ended as, and what its receiver saw."""

    name: str
    phase: str | None
    reason: str | None
    attempts: int | None
    jobs: int
    events_first_seen: list[str]
    missing_events: list[str]
    duplicate_ids: int
    conflicting_ids: list[str]
    out_of_order: bool
    bad_signatures: int


@dataclass
class BatchReport:
    """The checks over a batch: counts of everything that went wrong."""

    outcomes: list[RenderOutcome] = field(default_factory=list)
    jobs_deleted: bool = False
    """Whether the operator deletes these renders' Jobs on purpose (a ScratchFull render's Job
    is deleted, else it would run again): then 0 Jobs is right, more than 1 still is not."""

    def count(self, what: str) -> int:
        """How many renders have ``what``: lost, wrong, duplicate_jobs, missing_events,
        conflicting_events, out_of_order, bad_signatures; duplicate_deliveries sums repeats."""
        o = self.outcomes
        return {
            "lost": sum(1 for r in o if r.phase not in TERMINAL),
            "duplicate_jobs": sum(1 for r in o if r.jobs > 1),
            "missing_events": sum(len(r.missing_events) for r in o),
            "conflicting_events": sum(len(r.conflicting_ids) for r in o),
            "out_of_order": sum(1 for r in o if r.out_of_order),
            "bad_signatures": sum(r.bad_signatures for r in o),
            "duplicate_deliveries": sum(r.duplicate_ids for r in o),
        }[what]

    def problems(self) -> list[str]:
        """One line per render that is not right (empty when all are)."""
        lines = []
        for r in self.outcomes:
            issues = []
            if r.phase not in TERMINAL:
                issues.append(f"not terminal ({r.phase})")
            if r.jobs > 1 or (r.jobs == 0 and not self.jobs_deleted):
                issues.append(f"{r.jobs} Jobs")
            if r.missing_events:
                issues.append(f"missing events {r.missing_events}")
            if r.conflicting_ids:
                issues.append(f"one event under several ids {r.conflicting_ids}")
            if r.out_of_order:
                issues.append(f"events out of order {r.events_first_seen}")
            if r.bad_signatures:
                issues.append(f"{r.bad_signatures} bad signatures")
            if issues:
                lines.append(f"{r.name}: {'; '.join(issues)}")
        return lines


def valid_signature(headers: dict[str, str], body: bytes) -> bool:
    """Whether one request carries a Standard Webhooks signature that the reference library
    (``standardwebhooks``) computes for its id, timestamp and body with the batch's secret.

    The library's own ``verify`` also rejects a timestamp more than five minutes from now, which
    holds only at arrival: :class:`VerifyingReceiver` checks that way as requests come in; this
    check is for requests looked at later."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, timestamp, signature = (
        lowered.get("webhook-id"),
        lowered.get("webhook-timestamp"),
        lowered.get("webhook-signature"),
    )
    if not (message_id and timestamp and signature and timestamp.isdigit()):
        return False
    when = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    expected = Webhook(whsec(WEBHOOK_SECRET)).sign(message_id, when, body.decode())
    return any(part.strip() == expected for part in signature.split(" "))


@dataclass
class VerifyingReceiver(WebhookReceiver):
    """The webhook receiver a customer would run: each request is checked as it arrives with
    ``standardwebhooks.Webhook.verify`` (signature, and a timestamp within five minutes of now:
    a delivery retried after a long outage must be signed afresh). The verdicts line up with
    ``requests``: None for a valid request, else why the library refused it. It still answers
    200 either way, so that a refusal shows in the table rather than as retries."""

    verdicts: list[str | None] = field(default_factory=list)

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        try:
            Webhook(whsec(WEBHOOK_SECRET)).verify(body, headers)
            verdict = None
        except (WebhookVerificationError, ValueError) as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        with self._lock:  # a reentrant lock: the verdict is appended beside its request
            answer = super()._record(method, path, headers, body)
            self.verdicts.append(verdict)
            return answer

    def verified(self) -> list[tuple[ReceivedRequest, str | None]]:
        """Every request so far with its verdict."""
        with self._lock:
            return list(zip(self.requests, self.verdicts, strict=True))


def received(receiver: WebhookReceiver | None) -> list[tuple[ReceivedRequest, str | None]]:
    """The receiver's requests, each with None when its signature is valid, else why not: the
    verdict taken at arrival where the receiver verifies, else the signature checked now."""
    if receiver is None:
        return []
    if isinstance(receiver, VerifyingReceiver):
        return receiver.verified()
    return [
        (r, None if valid_signature(r.headers, r.body) else "bad signature") for r in list(receiver.requests)
    ]


def expected_events(status: dict[str, Any]) -> list[str]:
    """The events a render's final status makes due: queued (every render is accepted through
    Queued), started and succeeded for a success (a success proves the pod ran), failed for a
    failure (started only if it was seen running, so not asked for)."""
    phase = status.get("phase")
    if phase == "Succeeded":
        return ["queued", "started", "succeeded"]
    if phase == "Failed":
        return ["queued", "failed"]
    return ["queued"]


def check_batch(
    cluster: Cluster,
    namespace: str,
    names: Iterable[str],
    receiver: WebhookReceiver | None,
    *,
    jobs_deleted: bool = False,
) -> BatchReport:
    """Read every resource, its Jobs and its webhook deliveries, and say what is wrong
    (``jobs_deleted``: see :attr:`BatchReport.jobs_deleted`)."""
    items = {
        i["metadata"]["name"]: i
        for i in cluster.kubectl_json("-n", namespace, "get", "renderjobs.reelkube.io")["items"]
    }
    jobs = Counter(j["metadata"]["labels"].get("reelkube.io/name") for j in managed_jobs(cluster, namespace))
    requests = received(receiver)
    report = BatchReport(jobs_deleted=jobs_deleted)
    for name in names:
        status = (items.get(name) or {}).get("status") or {}
        mine = [(r, v) for r, v in requests if r.path.rstrip("/").endswith("/" + name)]
        ids_by_event: dict[str, set[str]] = {}
        first_seen: list[str] = []
        seen_ids: Counter[str] = Counter()
        bad = 0
        for request, verdict in mine:
            payload = request.json()
            event, eid = payload.get("event"), payload.get("id")
            seen_ids[eid] += 1
            ids_by_event.setdefault(event, set()).add(eid)
            if event not in first_seen:
                first_seen.append(event)
            if verdict is not None:
                bad += 1
        due = expected_events(status) if receiver else []
        order = [e for e in EVENTS if e in first_seen]
        report.outcomes.append(
            RenderOutcome(
                name=name,
                phase=status.get("phase"),
                reason=status.get("reason"),
                attempts=status.get("attempts"),
                jobs=jobs.get(name, 0),
                events_first_seen=first_seen,
                missing_events=[e for e in due if e not in ids_by_event],
                duplicate_ids=sum(n - 1 for n in seen_ids.values()),
                conflicting_ids=[e for e, ids in ids_by_event.items() if len(ids) > 1],
                out_of_order=first_seen != order,
                bad_signatures=bad,
            )
        )
    return report


def phases(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every RenderJob's status in ``namespace`` by name."""
    items = cluster.kubectl_json("-n", namespace, "get", "renderjobs.reelkube.io")["items"]
    return {i["metadata"]["name"]: (i.get("status") or {}) for i in items}


def wait_terminal(cluster: Cluster, namespace: str, names: Iterable[str], timeout: float) -> float:
    """Wait until every named render is terminal; the seconds it took (TimeoutError naming the
    ones left)."""
    wanted = set(names)
    started = time.monotonic()
    left: dict[str, Any] = {}
    while time.monotonic() - started < timeout:
        statuses = phases(cluster, namespace)
        left = {
            n: statuses.get(n, {}).get("phase")
            for n in wanted
            if statuses.get(n, {}).get("phase") not in TERMINAL
        }
        if not left:
            return time.monotonic() - started
        time.sleep(1)
    raise TimeoutError(f"not terminal after {timeout:g} s: {left}")


def in_flight(cluster: Cluster, namespace: str) -> list[str]:
    """The renders not yet terminal."""
    return sorted(n for n, s in phases(cluster, namespace).items() if s.get("phase") not in TERMINAL)


def wait_until_running(cluster: Cluster, namespace: str, count: int, timeout: float = 180) -> list[str]:
    """Wait until at least ``count`` renders are Running; their names."""
    deadline = time.monotonic() + timeout
    running: list[str] = []
    while time.monotonic() < deadline:
        running = sorted(n for n, s in phases(cluster, namespace).items() if s.get("phase") == "Running")
        if len(running) >= count:
            return running
        time.sleep(0.5)
    raise TimeoutError(f"only {len(running)} renders Running after {timeout:g} s")


def probe_job_latency(cluster: Cluster, namespace: str, timeout: float = 120) -> float:
    """Apply a tiny render now and return the seconds until its Job exists: how long until the
    operator acts on something new (the render itself is left to finish)."""
    name = f"probe-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    cluster.apply(tiny_render(name, namespace, None, seconds=1))
    while time.monotonic() - started < timeout:
        jobs = [
            j
            for j in managed_jobs(cluster, namespace)
            if j["metadata"]["labels"].get("reelkube.io/name") == name
        ]
        if jobs:
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"no Job for {namespace}/{name} {timeout:g} s after apply")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
