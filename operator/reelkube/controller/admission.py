"""Admission of resources held back by the concurrency limits: priority queues with positions.

Pure first: :func:`place` orders every waiting resource (``spec.priority`` higher first, then
oldest, then by name) and says, for each, whether it may start now or where it waits and for
what; :func:`count_running` counts the Jobs that hold slots. The limits (all optional, 0 meaning
none):

- cluster-wide, per queue: RenderJobs (``jobs.maxRunning``) and TTSJobs (``jobs.maxRunningTTS``)
  are separate queues with separate slots, so narration never waits behind long renders;
- per namespace, in each queue: the chart's ``jobs.maxRunningPerNamespace``, overridden by the
  Namespace's ``reelkube.io/max-running`` annotation (no redeploy).

A resource with ``spec.queueName`` is Kueue's: it neither waits here nor holds a slot.

A resource held back by its namespace's limit does not block the queue: the next resource of
another namespace starts in its place.

:class:`Queues` reads what the selection needs (resources, Jobs, Namespaces). :class:`Admission`
runs the selection on a background thread, woken when a Job finishes and on a slow tick (no kopf
timers: they add finalizers): it reconciles the resources that may start (the reconciler places
them again under its admission lock before creating, so a choice made here is never an overrun)
and those whose queue position changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from kubernetes.client.exceptions import ApiException

from reelkube.api.kinds import KINDS, ResourceKind
from reelkube.api.status import Phase
from reelkube.controller.job_manifests import KIND_LABEL, KUEUE_QUEUE_LABEL, UID_LABEL
from reelkube.controller.job_observation import job_finished

if TYPE_CHECKING:
    from reelkube.controller.kube import ClusterClient
    from reelkube.controller.reconcile import Reconciler
    from reelkube.controller.settings import OperatorSettings

log = logging.getLogger(__name__)

ADMISSION_TICK_SECONDS = 10.0
NAMESPACE_LIMITS_TTL_SECONDS = 10.0
"""How long the namespaces' ``reelkube.io/max-running`` annotations are reused before being
read again: a changed annotation applies within this time, without a redeploy."""
MAX_RUNNING_ANNOTATION = "reelkube.io/max-running"
"""Namespace annotation: most Jobs running at once in that namespace, per queue (overrides the
chart's ``jobs.maxRunningPerNamespace``; 0 means no limit)."""
_WAITING_PHASES = (None, Phase.PENDING.value, Phase.QUEUED.value)


class Waiting(NamedTuple):
    """A resource without a Job yet, and where its status says it waits."""

    created: str
    kind: str
    namespace: str
    name: str
    priority: int = 0
    position: int | None = None
    """``status.queuePosition`` as last written."""
    message: str | None = None
    """``status.message`` as last written."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Which resource this is: kind, namespace, name."""
        return self.kind, self.namespace, self.name


def queue_order(item: Waiting) -> tuple[int, str, str, str, str]:
    """Higher ``spec.priority`` first; within a priority the oldest, then by name."""
    return -item.priority, item.created, item.name, item.namespace, item.kind


def waiting_item(kind: ResourceKind, body: Mapping[str, Any]) -> Waiting:
    """The :class:`Waiting` entry of one resource body of ``kind``."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    priority = spec.get("priority")
    return Waiting(
        meta.get("creationTimestamp") or "",
        kind.kind,
        meta["namespace"],
        meta["name"],
        priority if isinstance(priority, int) else 0,
        status.get("queuePosition"),
        status.get("message"),
    )


def waiting(kind: ResourceKind, bodies: Iterable[Mapping[str, Any]]) -> list[Waiting]:
    """The resources among ``bodies`` (of ``kind``) that wait for a Job: not started, not done,
    not canceled, not being deleted and not Kueue's (``spec.queueName``)."""
    found: list[Waiting] = []
    for body in bodies:
        status = body.get("status") or {}
        if status.get("phase") not in _WAITING_PHASES or status.get("jobName"):
            continue
        if (body.get("spec") or {}).get("cancel") is True or body["metadata"].get("deletionTimestamp"):
            continue
        if (body.get("spec") or {}).get("queueName"):
            continue  # Kueue's to admit, not held in Reelkube's queue
        found.append(waiting_item(kind, body))
    return found


@dataclass(frozen=True)
class Limits:
    """The concurrency limits; 0 means none."""

    cluster: Mapping[str, int] = field(default_factory=dict)
    """Per queue (a kind's name): most Jobs running at once cluster-wide."""
    namespace_default: int = 0
    """Most Jobs running at once per namespace, in each queue."""
    namespaces: Mapping[str, int] = field(default_factory=dict)
    """Per-namespace overrides of ``namespace_default`` (from the Namespace annotation)."""

    def for_namespace(self, namespace: str) -> int:
        return self.namespaces.get(namespace, self.namespace_default)

    def apply_to(self, queue: str, namespace: str) -> bool:
        """Whether any limit holds a resource of ``queue`` in ``namespace``."""
        return bool(self.cluster.get(queue) or self.for_namespace(namespace))


def namespace_limits(annotations: Mapping[str, Mapping[str, str]]) -> dict[str, int]:
    """The ``reelkube.io/max-running`` overrides from each namespace's annotations; a value that
    is not a non-negative integer is ignored (logged), leaving the chart's default."""
    limits: dict[str, int] = {}
    for namespace, values in annotations.items():
        raw = values.get(MAX_RUNNING_ANNOTATION)
        if raw is None:
            continue
        try:
            limit = int(raw.strip())
        except ValueError:
            limit = -1
        if limit < 0:
            log.warning("event=bad_namespace_limit namespace=%s value=%r", namespace, raw)
            continue
        limits[namespace] = limit
    return limits


@dataclass(frozen=True)
class Running:
    """Jobs holding a slot, per queue and per (queue, namespace)."""

    by_queue: Mapping[str, int] = field(default_factory=dict)
    by_namespace: Mapping[tuple[str, str], int] = field(default_factory=dict)


def count_running(jobs: Iterable[Mapping[str, Any]]) -> Running:
    """The resources with an unfinished Job among ``jobs`` (the operator's), counted by their
    kind label. A chunked render counts once, whatever its Jobs (the chunk Job, then the merge
    Job, by the resource's uid label) and however many windows render at once: its pods are
    capped by the chart's jobs.maxChunks instead. A Job handed to Kueue (its queue label) holds
    no slot: Kueue's quota holds it."""
    by_queue: Counter[str] = Counter()
    by_namespace: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    for job in jobs:
        if job_finished(job):
            continue
        meta = job.get("metadata") or {}
        if KUEUE_QUEUE_LABEL in (meta.get("labels") or {}):
            continue  # Kueue's quota holds it, not a Reelkube slot
        uid = (meta.get("labels") or {}).get(UID_LABEL)
        if uid:
            if uid in seen:
                continue
            seen.add(uid)
        queue = (meta.get("labels") or {}).get(KIND_LABEL, "")
        by_queue[queue] += 1
        by_namespace[(queue, meta.get("namespace", ""))] += 1
    return Running(dict(by_queue), dict(by_namespace))


@dataclass(frozen=True)
class Placement:
    """Whether a waiting resource may start now, or where it waits and for what."""

    admitted: bool
    queue: str
    namespace: str
    position: int = 0
    """1 = next to start; 0 when admitted."""
    scope: Literal["cluster", "namespace"] | None = None
    """Which limit holds it back."""
    running: int = 0
    """Jobs holding that limit's slots (those admitted before it in this round included); for
    an admitted resource, its queue's cluster-wide count before it starts."""
    limit: int = 0


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def queue_reason(namespace: str | None) -> str:
    """The status reason of a resource held back: ConcurrencyLimit (cluster-wide) or
    NamespaceLimit."""
    return "NamespaceLimit" if namespace is not None else "ConcurrencyLimit"


def queue_message(queue: str, position: int, running: int, limit: int, namespace: str | None) -> str:
    """What a held-back resource waits for, e.g. "3rd in namespace team-a: 12 of 12 RenderJobs
    running there" (``namespace`` None: the cluster-wide limit)."""
    if namespace is not None:
        return f"{ordinal(position)} in namespace {namespace}: {running} of {limit} {queue}s running there"
    return f"{ordinal(position)} in the {queue} queue: {running} of {limit} running cluster-wide"


def place(
    candidates: Iterable[Waiting],
    running: Running,
    limits: Limits,
    queue_of: Callable[[Waiting], str] = lambda item: item.kind,
) -> list[tuple[Waiting, Placement]]:
    """Every waiting resource in queue order, with its :class:`Placement`.

    Slots are handed out in queue order; a resource whose namespace is full waits there (its
    position counts the resources ahead of it in that namespace), and the next one of another
    namespace may start. A resource that only the cluster-wide limit holds back counts the ones
    ahead of it that wait for the same."""
    taken_queue: Counter[str] = Counter(running.by_queue)
    taken_namespace: Counter[tuple[str, str]] = Counter(running.by_namespace)
    ahead_queue: Counter[str] = Counter()
    ahead_namespace: Counter[tuple[str, str]] = Counter()
    placed: list[tuple[Waiting, Placement]] = []
    for item in sorted(candidates, key=queue_order):
        queue = queue_of(item)
        where = (queue, item.namespace)
        namespace_limit = limits.for_namespace(item.namespace)
        cluster_limit = limits.cluster.get(queue, 0)
        if namespace_limit and taken_namespace[where] >= namespace_limit:
            ahead_namespace[where] += 1
            placement = Placement(
                False,
                queue,
                item.namespace,
                ahead_namespace[where],
                "namespace",
                taken_namespace[where],
                namespace_limit,
            )
        elif cluster_limit and taken_queue[queue] >= cluster_limit:
            ahead_namespace[where] += 1
            ahead_queue[queue] += 1
            placement = Placement(
                False, queue, item.namespace, ahead_queue[queue], "cluster", taken_queue[queue], cluster_limit
            )
        else:
            placement = Placement(
                True, queue, item.namespace, running=taken_queue[queue], limit=cluster_limit
            )
            taken_queue[queue] += 1
            taken_namespace[where] += 1
        placed.append((item, placement))
    return placed


def choose_admissions(candidates: Iterable[Waiting], running: int, limit: int) -> list[Waiting]:
    """The waiting resources to try now under one limit shared by every kind (one queue): the
    first in queue order, as many as ``limit`` leaves free."""
    one_queue = place(
        candidates, Running(by_queue={"": running}), Limits(cluster={"": limit}), queue_of=lambda _: ""
    )
    return [item for item, placement in one_queue if placement.admitted]


def placement_written(item: Waiting, placement: Placement) -> bool:
    """Whether the status of a held-back resource already shows ``placement``."""
    namespace = placement.namespace if placement.scope == "namespace" else None
    message = queue_message(
        placement.queue, placement.position, placement.running, placement.limit, namespace
    )
    return item.position == placement.position and item.message == message


class Queues:
    """What the selection reads from the API server: the waiting resources, the running Jobs,
    and the namespaces' limits (read again at most every ``NAMESPACE_LIMITS_TTL_SECONDS``)."""

    def __init__(self, client: ClusterClient, settings: OperatorSettings) -> None:
        self.client = client
        self.settings = settings
        self._namespace_limits: tuple[float, dict[str, int]] | None = None

    def limits(self) -> Limits:
        """The concurrency limits now: the chart's, with the namespaces' overrides."""
        settings = self.settings
        return Limits(
            cluster={kind: settings.cluster_limit(kind) for kind in KINDS},
            namespace_default=settings.max_running_per_namespace,
            namespaces=self._namespace_overrides(),
        )

    def _namespace_overrides(self) -> dict[str, int]:
        now = time.monotonic()
        cached = self._namespace_limits
        if cached is not None and now - cached[0] < NAMESPACE_LIMITS_TTL_SECONDS:
            return cached[1]
        try:
            overrides = namespace_limits(self.client.list_namespace_annotations())
        except ApiException as exc:
            # Without them the chart's default applies; say so once per refresh.
            log.warning("event=namespace_limits_unreadable status=%s reason=%s", exc.status, exc.reason)
            overrides = cached[1] if cached is not None else {}
        self._namespace_limits = (now, overrides)
        return overrides

    def place_waiting(
        self, also: tuple[ResourceKind, Mapping[str, Any]] | None = None
    ) -> list[tuple[Waiting, Placement]]:
        """Every waiting resource in the watched namespaces with its place (see
        :func:`place`); ``also``: a resource body to count among
        them even when the list does not show it yet."""
        namespaces = self.settings.watch_namespaces
        candidates = [
            item
            for kind in KINDS.values()
            for item in waiting(kind, self.client.list_resources(kind, namespaces))
        ]
        if also is not None:
            extra = waiting_item(*also)
            if all(item.key != extra.key for item in candidates):
                candidates.append(extra)
        running = count_running(self.client.list_managed_jobs(namespaces))
        return place(candidates, running, self.limits())


class Admission:
    """Background admission of queued resources: runs on each wake-up and every tick."""

    def __init__(self, reconciler: Reconciler, tick_seconds: float = ADMISSION_TICK_SECONDS) -> None:
        self._reconciler = reconciler
        self._tick = tick_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="admission", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def admit_waiting(self) -> int:
        """Reconcile the waiting resources that may start now, in queue order, and write the new
        position of those whose place changed; returns how many were started or moved."""
        reconciler = self._reconciler
        touched = 0
        for item, placement in reconciler.queues.place_waiting():
            if placement.admitted:
                reconciler.reconcile(item.kind, item.namespace, item.name, trigger="admission")
            elif not placement_written(item, placement):
                reconciler.reconcile(
                    item.kind, item.namespace, item.name, trigger="admission", queued=placement
                )
            else:
                continue
            touched += 1
        return touched

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.admit_waiting()
            except Exception:  # noqa: BLE001 - keep admitting after an API hiccup
                log.exception("event=admission_error")
