"""Kubernetes Events on phase transitions: the Event body (pure), and a failed Event that never
fails the reconcile."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reelkube.api.status import Phase
from reelkube.controller.events import MESSAGE_LIMIT, TransitionEvents, transition_event
from support.resources import UID, resource_body

NOW = datetime(2025, 1, 1, 0, 1, 2, 345678, tzinfo=UTC)


def test_a_failure_event_is_a_warning_that_leads_with_the_cause() -> None:
    body = resource_body(status={"phase": "Running"})
    body["metadata"]["resourceVersion"] = "42"
    event = transition_event(
        body,
        Phase.FAILED,
        "InputNotFound",
        "https://example.com/bg.jpg returned 404",
        now=NOW,
        instance="op-1",
    )
    assert event["involvedObject"] == {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "name": "summer-reel",
        "namespace": "media",
        "uid": UID,
        "resourceVersion": "42",
    }
    assert event["metadata"] == {
        "name": f"summer-reel.{int(NOW.timestamp() * 1_000_000):x}",
        "namespace": "media",
    }
    assert (event["type"], event["reason"]) == ("Warning", "Failed")
    assert event["message"] == "InputNotFound: https://example.com/bg.jpg returned 404"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2025-01-01T00:01:02Z"
    assert event["count"] == 1 and event["source"] == {"component": "reelkube-operator"}
    assert event["reportingComponent"] == "reelkube.io/operator" and event["reportingInstance"] == "op-1"


def test_each_phase_has_its_reason_and_type() -> None:
    body = resource_body()
    seen = {
        phase: (e["reason"], e["type"], e["message"])
        for phase, reason, message in [
            (Phase.QUEUED, "ConcurrencyLimit", "1st in the RenderJob queue: 2 of 2 running cluster-wide"),
            (Phase.RUNNING, "Running", "pod p1 is rendering"),
            (Phase.SUCCEEDED, "Succeeded", "render finished and outputs uploaded"),
            (Phase.CANCELED, "CanceledByUser", "canceled by spec.cancel before it started"),
            (Phase.PENDING, "CreateFailed", None),
        ]
        for e in [transition_event(body, phase, reason, message, now=NOW)]
    }
    assert seen == {
        Phase.QUEUED: (
            "Queued",
            "Normal",
            "ConcurrencyLimit: 1st in the RenderJob queue: 2 of 2 running cluster-wide",
        ),
        Phase.RUNNING: ("Started", "Normal", "pod p1 is rendering"),
        Phase.SUCCEEDED: ("Succeeded", "Normal", "render finished and outputs uploaded"),
        Phase.CANCELED: ("Canceled", "Normal", "CanceledByUser: canceled by spec.cancel before it started"),
        Phase.PENDING: ("Pending", "Warning", "CreateFailed"),
    }


def test_a_long_message_is_clipped() -> None:
    event = transition_event(resource_body(), Phase.FAILED, "RenderFailed", "x" * 5000, now=NOW)
    assert len(event["message"]) == MESSAGE_LIMIT and event["message"].endswith("…")


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.threads: set[str] = set()

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("403 Forbidden")
        self.events.append((namespace, dict(event)))


def test_events_are_sent_in_order_off_the_calling_thread() -> None:
    sink = Sink()
    events = TransitionEvents(sink, instance="op")
    body = resource_body()
    for phase in (Phase.QUEUED, Phase.RUNNING, Phase.SUCCEEDED):
        events.record(body, phase, None, None)
    events.close()
    assert [e["reason"] for _, e in sink.events] == ["Queued", "Started", "Succeeded"]
    assert {ns for ns, _ in sink.events} == {"media"}
    assert threading.current_thread().name not in sink.threads


def test_a_failed_event_is_dropped_without_raising() -> None:
    sink = Sink(fail=True)
    events = TransitionEvents(sink)
    events.record(resource_body(), Phase.FAILED, "InputNotFound", "m")
    events.close()
    assert sink.events == []
