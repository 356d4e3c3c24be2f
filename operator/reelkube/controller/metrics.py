"""Prometheus metrics of the operator, served on ``REELKUBE_METRICS_PORT``."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reelkube.api.status import Phase

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


class _PhaseCollector(Collector):
    """``reelkube_resources{kind,phase}``: resources by phase, as last seen by this operator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str, str], str] = {}

    def observe(self, kind: str, namespace: str, name: str, phase: Phase | None) -> None:
        with self._lock:
            key = (kind, namespace, name)
            if phase is None:
                self._phases.pop(key, None)
            else:
                self._phases[key] = phase.value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "reelkube_resources", "Resources by kind and phase", labels=["kind", "phase"]
        )
        with self._lock:
            counts = Tally((kind, phase) for (kind, _, _), phase in self._phases.items())
        for (kind, phase), count in sorted(counts.items()):
            family.add_metric([kind, phase], count)
        yield family


class OperatorMetrics:
    """The operator's metrics in their own registry (tests create as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.phases = _PhaseCollector()
        self.registry.register(self.phases)
        self.reconcile_seconds = Histogram(
            "reelkube_reconcile_duration_seconds",
            "Time spent in one reconcile",
            ["kind", "trigger"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.apply_to_job_seconds = Histogram(
            "reelkube_apply_to_job_created_seconds",
            "From the resource's creationTimestamp to its Job being created",
            ["kind"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.jobs_created = Counter(
            "reelkube_jobs_created_total", "Jobs created", ["kind"], registry=self.registry
        )
        self.transitions = Counter(
            "reelkube_phase_transitions_total",
            "Phase changes written",
            ["kind", "phase"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "reelkube_webhook_deliveries_total",
            "Webhook deliveries by outcome",
            ["event", "state"],
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "reelkube_reconcile_errors_total", "Reconciles that raised", ["kind"], registry=self.registry
        )

    def serve(self, port: int) -> None:
        """Serve ``/metrics`` on ``port`` from a background thread."""
        start_http_server(port, registry=self.registry)
