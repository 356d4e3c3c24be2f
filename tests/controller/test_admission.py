"""Which waiting resources the admission loop tries, and where the others wait: a pure choice
(priority, then age), per queue and per namespace, one per free slot."""

from __future__ import annotations

from collections import Counter

from reelkube.api.kinds import RENDER_JOB, TTS_JOB
from reelkube.controller.admission import (
    MAX_RUNNING_ANNOTATION,
    Limits,
    Placement,
    Running,
    Waiting,
    choose_admissions,
    count_running,
    namespace_limits,
    ordinal,
    place,
    placement_written,
    queue_message,
    queue_reason,
    waiting,
)
from support.resources import condition, job, resource_body


def named(name: str, created: str, status: dict[str, object] | None = None) -> dict[str, object]:
    body = resource_body(status=status)
    body["metadata"].update(name=name, creationTimestamp=created)
    return body


def test_waiting_means_no_job_yet_and_not_finished() -> None:
    bodies = [
        named("fresh", "2025-01-01T00:00:03Z"),
        named("pending", "2025-01-01T00:00:02Z", {"phase": "Pending", "reason": "CreateFailed"}),
        named("queued", "2025-01-01T00:00:01Z", {"phase": "Queued", "reason": "ConcurrencyLimit"}),
        named("created", "2025-01-01T00:00:00Z", {"phase": "Queued", "jobName": "rj-created-x"}),
        named("running", "2025-01-01T00:00:00Z", {"phase": "Running", "jobName": "rj-running-x"}),
        named("failed", "2025-01-01T00:00:00Z", {"phase": "Failed", "reason": "InvalidSpec"}),
    ]
    assert [w.name for w in waiting(RENDER_JOB, bodies)] == ["fresh", "pending", "queued"]
    assert {w.kind for w in waiting(TTS_JOB, bodies)} == {"TTSJob"}


def test_choose_takes_the_oldest_for_the_free_slots() -> None:
    candidates = [
        Waiting("2025-01-01T00:00:03Z", "RenderJob", "media", "third"),
        Waiting("2025-01-01T00:00:01Z", "TTSJob", "media", "first"),
        Waiting("2025-01-01T00:00:02Z", "RenderJob", "other", "second"),
    ]
    assert [w.name for w in choose_admissions(candidates, running=1, limit=3)] == ["first", "second"]
    assert [w.name for w in choose_admissions(candidates, running=0, limit=5)] == ["first", "second", "third"]


def test_choose_nothing_when_the_limit_is_reached_or_overrun() -> None:
    candidates = [Waiting("2025-01-01T00:00:01Z", "RenderJob", "media", "a")]
    assert choose_admissions(candidates, running=2, limit=2) == []
    assert choose_admissions(candidates, running=5, limit=2) == []


# --- priority queues, per-namespace and per-kind limits ---------------------------------------


def item(
    name: str, created: int, priority: int = 0, namespace: str = "media", kind: str = "RenderJob"
) -> Waiting:
    return Waiting(f"2025-01-01T00:00:{created:02d}Z", kind, namespace, name, priority)


def admitted(placed: list[tuple[Waiting, Placement]]) -> list[str]:
    return [w.name for w, p in placed if p.admitted]


def held(placed: list[tuple[Waiting, Placement]]) -> dict[str, tuple[int, str | None, int, int]]:
    """name -> (position, scope, running, limit) of every resource held back."""
    return {w.name: (p.position, p.scope, p.running, p.limit) for w, p in placed if not p.admitted}


def start_order(candidates: list[Waiting], limits: Limits) -> list[str]:
    """The order in which ``candidates`` start when every running Job finishes one at a time,
    oldest start first: admission rounds as the operator runs them."""
    queue = list(candidates)
    running: list[Waiting] = []
    started: list[str] = []
    while queue:
        by_queue = Counter(w.kind for w in running)
        by_namespace = Counter((w.kind, w.namespace) for w in running)
        placed = place(queue, Running(dict(by_queue), dict(by_namespace)), limits)
        for w, p in placed:
            if p.admitted:
                started.append(w.name)
                running.append(w)
                queue.remove(w)
        assert running, "a round with free slots starts something"
        running.pop(0)
    return started


SIX = [
    item("low-old", 1, priority=-5),
    item("normal-a", 2),
    item("urgent", 6, priority=10),
    item("normal-b", 3),
    item("high", 5, priority=5),
    item("low-new", 4, priority=-5),
]


def test_six_of_mixed_priority_under_a_limit_of_two_start_by_priority_then_age() -> None:
    limits = Limits(cluster={"RenderJob": 2})
    placed = place(SIX, Running(), limits)
    assert admitted(placed) == ["urgent", "high"]
    assert held(placed) == {
        "normal-a": (1, "cluster", 2, 2),
        "normal-b": (2, "cluster", 2, 2),
        "low-old": (3, "cluster", 2, 2),
        "low-new": (4, "cluster", 2, 2),
    }
    assert start_order(SIX, limits) == ["urgent", "high", "normal-a", "normal-b", "low-old", "low-new"]


def test_equal_priority_and_age_is_ordered_by_name() -> None:
    same = [item("b", 1), item("a", 1), item("c", 1)]
    assert [w.name for w, _ in place(same, Running(), Limits())] == ["a", "b", "c"]


def test_a_full_namespace_waits_while_another_namespace_proceeds() -> None:
    candidates = [
        item("a1", 1, namespace="team-a"),
        item("a2", 2, namespace="team-a"),
        item("b1", 3, namespace="team-b"),
        item("a3", 4, namespace="team-a"),
        item("b2", 5, namespace="team-b"),
    ]
    running = Running({"RenderJob": 2}, {("RenderJob", "team-a"): 2})
    limits = Limits(cluster={"RenderJob": 4}, namespace_default=2)
    placed = place(candidates, running, limits)
    assert admitted(placed) == ["b1", "b2"]
    assert held(placed) == {
        "a1": (1, "namespace", 2, 2),
        "a2": (2, "namespace", 2, 2),
        "a3": (3, "namespace", 2, 2),
    }


def test_a_namespace_annotation_overrides_the_default_limit() -> None:
    candidates = [item("a1", 1, namespace="team-a"), item("b1", 2, namespace="team-b")]
    running = Running({"RenderJob": 2}, {("RenderJob", "team-a"): 1, ("RenderJob", "team-b"): 1})
    limits = Limits(namespace_default=1, namespaces={"team-a": 3})
    assert admitted(place(candidates, running, limits)) == ["a1"]
    assert held(place(candidates, running, limits)) == {"b1": (1, "namespace", 1, 1)}
    unlimited = Limits(namespace_default=1, namespaces={"team-b": 0})
    assert admitted(place(candidates, running, unlimited)) == ["b1"]


def test_tts_jobs_have_their_own_slots() -> None:
    renders = [item(f"render-{i}", i) for i in range(1, 4)]
    narrations = [item("narration", 9, kind="TTSJob")]
    running = Running({"RenderJob": 2})  # every render slot busy
    no_tts_limit = Limits(cluster={"RenderJob": 2})
    assert admitted(place([*renders, *narrations], running, no_tts_limit)) == ["narration"]
    tts_limit = Limits(cluster={"RenderJob": 2, "TTSJob": 1})
    busy_tts = Running({"RenderJob": 2, "TTSJob": 1})
    assert held(place(narrations, busy_tts, tts_limit)) == {"narration": (1, "cluster", 1, 1)}
    # A queue's position counts only its own kind.
    assert held(place([*renders, *narrations], busy_tts, tts_limit))["render-1"][0] == 1


def test_queue_messages_say_what_the_resource_waits_for() -> None:
    assert queue_message("RenderJob", 3, 12, 12, "team-a") == (
        "3rd in namespace team-a: 12 of 12 RenderJobs running there"
    )
    assert queue_message("TTSJob", 1, 2, 2, None) == "1st in the TTSJob queue: 2 of 2 running cluster-wide"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
    ]  # fmt: skip
    assert queue_reason("team-a") == "NamespaceLimit" and queue_reason(None) == "ConcurrencyLimit"


def test_placement_written_compares_position_and_message() -> None:
    ((w, p),) = place([item("a", 1)], Running({"RenderJob": 1}), Limits(cluster={"RenderJob": 1}))
    message = queue_message("RenderJob", 1, 1, 1, None)
    assert not placement_written(w, p)
    assert placement_written(w._replace(position=1, message=message), p)
    assert not placement_written(w._replace(position=2, message=message), p)


def test_namespace_limits_from_annotations() -> None:
    annotations = {
        "team-a": {MAX_RUNNING_ANNOTATION: "3"},
        "team-b": {MAX_RUNNING_ANNOTATION: " 0 "},
        "team-c": {MAX_RUNNING_ANNOTATION: "many"},
        "team-d": {MAX_RUNNING_ANNOTATION: "-1"},
        "team-e": {"other": "x"},
    }
    assert namespace_limits(annotations) == {"team-a": 3, "team-b": 0}


def test_count_running_counts_unfinished_jobs_by_kind_and_namespace() -> None:
    jobs = [
        job(active=1, name="r1"),
        job(active=1, name="r2", namespace="team-a"),
        job(active=1, name="t1", kind="TTSJob"),
        job([condition("Complete")], name="done"),
        job([condition("Failed")], name="failed", kind="TTSJob"),
    ]
    counted = count_running(jobs)
    assert counted.by_queue == {"RenderJob": 2, "TTSJob": 1}
    assert counted.by_namespace == {
        ("RenderJob", "media"): 1,
        ("RenderJob", "team-a"): 1,
        ("TTSJob", "media"): 1,
    }


def test_a_chunked_render_counts_once() -> None:
    chunks = job(active=4, name="rj-a-chunks")
    merge = job(active=1, name="rj-a-merge")
    other = job(active=1, name="rj-b")
    for made, uid in ((chunks, "uid-a"), (merge, "uid-a"), (other, "uid-b")):
        made["metadata"]["labels"]["reelkube.io/uid"] = uid
    assert count_running([chunks, merge, other]).by_queue == {"RenderJob": 2}


def test_waiting_reads_priority_and_position_and_skips_canceled() -> None:
    body = named("queued", "2025-01-01T00:00:01Z", {"phase": "Queued", "queuePosition": 2, "message": "m"})
    body["spec"]["priority"] = 7
    canceled = named("canceled", "2025-01-01T00:00:01Z", {"phase": "Queued"})
    canceled["spec"]["cancel"] = True
    assert waiting(RENDER_JOB, [body, canceled]) == [
        Waiting("2025-01-01T00:00:01Z", "RenderJob", "media", "queued", 7, 2, "m")
    ]
