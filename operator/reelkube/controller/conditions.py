"""kstatus conditions written through small helpers (after Flux's ``MarkReconciling`` family).

- ``Reconciling`` True while the operator is still working towards the desired state;
- ``Ready`` True when the outputs exist, False when the resource failed (or is not there yet);
- ``Stalled`` True when it cannot proceed without someone acting.

Each helper takes the current conditions and returns new ones; ``lastTransitionTime`` changes
only when a condition's status changes, so re-applying the same mark is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from reelkube.api.status import Condition

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


def now_rfc3339() -> str:
    """The current time as RFC 3339 in UTC with second precision (as Kubernetes writes it)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Iterable[Condition],
    type_: str,
    status: str,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """Return ``conditions`` with ``type_`` set; other conditions are kept in order."""
    stamp = now or now_rfc3339()

    def build(transition: str | None) -> Condition:
        return Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            lastTransitionTime=transition,
            observedGeneration=generation,
        )

    out: list[Condition] = []
    found = False
    for cond in conditions:
        if cond.type != type_:
            out.append(cond)
            continue
        found = True
        # The transition time moves only when the status changes.
        out.append(build(cond.lastTransitionTime if cond.status == status else stamp))
    if not found:
        out.append(build(stamp))
    return out


def remove_condition(conditions: Iterable[Condition], type_: str) -> list[Condition]:
    """Return ``conditions`` without ``type_`` (kstatus: abnormal-true conditions are removed,
    not set False, once they stop applying)."""
    return [c for c in conditions if c.type != type_]


def mark_reconciling(
    conditions: Iterable[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """Working on it: Reconciling True, Ready False, no Stalled."""
    out = set_condition(conditions, RECONCILING, "True", reason, message, generation=generation, now=now)
    out = set_condition(out, READY, "False", reason, message, generation=generation, now=now)
    return remove_condition(out, STALLED)


def mark_ready(
    conditions: Iterable[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """Done and outputs written: Ready True, no Reconciling or Stalled."""
    out = set_condition(conditions, READY, "True", reason, message, generation=generation, now=now)
    return remove_condition(remove_condition(out, RECONCILING), STALLED)


def mark_failed(
    conditions: Iterable[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """Finished without outputs (failed or canceled): Ready False with the cause, no Reconciling.

    A failed render is terminal (the spec is immutable), so it is also Stalled: nothing changes
    until someone re-creates the resource.
    """
    out = set_condition(conditions, READY, "False", reason, message, generation=generation, now=now)
    out = set_condition(out, STALLED, "True", reason, message, generation=generation, now=now)
    return remove_condition(out, RECONCILING)


def mark_stalled(
    conditions: Iterable[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """Cannot proceed (e.g. a Job cannot be created): Stalled True, Ready False, no Reconciling."""
    out = set_condition(conditions, STALLED, "True", reason, message, generation=generation, now=now)
    out = set_condition(out, READY, "False", reason, message, generation=generation, now=now)
    return remove_condition(out, RECONCILING)
