"""kstatus condition helpers."""

from __future__ import annotations

from reelkube.api.status import Condition
from reelkube.controller.conditions import (
    mark_failed,
    mark_ready,
    mark_reconciling,
    mark_stalled,
    set_condition,
)


def by_type(conditions: list[Condition]) -> dict[str, Condition]:
    return {c.type: c for c in conditions}


def test_reconciling_then_ready() -> None:
    working = mark_reconciling([], "JobCreated", "Job created", generation=1, now="T1")
    assert {t: c.status for t, c in by_type(working).items()} == {"Reconciling": "True", "Ready": "False"}
    done = mark_ready(working, "Succeeded", "outputs uploaded", generation=1, now="T2")
    assert [(c.type, c.status, c.reason, c.lastTransitionTime) for c in done] == [
        ("Ready", "True", "Succeeded", "T2")
    ]


def test_transition_time_changes_only_with_status() -> None:
    first = mark_reconciling([], "JobCreated", "a", generation=1, now="T1")
    again = mark_reconciling(first, "Running", "b", generation=1, now="T2")
    ready = by_type(again)["Ready"]
    assert ready.lastTransitionTime == "T1" and ready.reason == "Running" and ready.message == "b"


def test_failed_and_stalled() -> None:
    failed = by_type(
        mark_failed(mark_reconciling([], "Running", "", generation=2), "OutOfMemory", "oom", generation=2)
    )
    assert failed["Ready"].status == "False" and failed["Ready"].reason == "OutOfMemory"
    assert failed["Stalled"].status == "True" and "Reconciling" not in failed
    assert failed["Ready"].observedGeneration == 2
    stalled = by_type(mark_stalled([], "ImagePullBackOff", "no image", generation=1))
    assert stalled["Stalled"].status == "True" and stalled["Ready"].status == "False"
    recovered = by_type(mark_reconciling(list(stalled.values()), "Running", "", generation=1))
    assert "Stalled" not in recovered


def test_set_condition_keeps_other_conditions_in_order() -> None:
    base = [Condition(type="A", status="True"), Condition(type="B", status="False")]
    out = set_condition(base, "A", "False", "R", "m", generation=None, now="T")
    assert [c.type for c in out] == ["A", "B"] and out[0].lastTransitionTime == "T"
