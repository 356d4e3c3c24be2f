"""The Lease decision (every branch a row) and the chart's leader-election settings.

The Lease calls themselves run against the real API server in tests/e2e/test_standby_cluster.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from reelkube.controller.leadership import LeaseRecord, LeaseTiming, Verdict, lease_verdict
from reelkube.controller.settings import leader_election_from_env

NOW = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)


def _record(holder: str | None, renewed_ago: float | None, lease_seconds: int = 15) -> LeaseRecord:
    renewed = None if renewed_ago is None else NOW - dt.timedelta(seconds=renewed_ago)
    return LeaseRecord(holder=holder, renew_time=renewed, lease_seconds=lease_seconds)


@pytest.mark.parametrize(
    ("record", "unchanged_for", "expected"),
    [
        pytest.param(None, None, Verdict.TAKE, id="no Lease yet"),
        pytest.param(_record(None, 1), 0.0, Verdict.TAKE, id="released (no holder)"),
        pytest.param(_record("", 1), 0.0, Verdict.TAKE, id="released (empty holder)"),
        pytest.param(_record("me", 1), 0.0, Verdict.RENEW, id="ours, fresh"),
        pytest.param(_record("me", 60), 60.0, Verdict.RENEW, id="ours, even if stale: renew it"),
        pytest.param(_record("other", 3), 3.0, Verdict.WAIT, id="other's, renewed 3 s ago"),
        pytest.param(_record("other", 14.9), 0.0, Verdict.WAIT, id="other's, just inside the lease"),
        pytest.param(_record("other", 15), 0.0, Verdict.TAKE, id="other's, expired by its renew time"),
        pytest.param(_record("other", 1), 15.0, Verdict.TAKE, id="other's, unchanged for a lease here"),
        pytest.param(_record("other", -30), 16.0, Verdict.TAKE, id="holder's clock ahead: our clock decides"),
        pytest.param(_record("other", None), 0.0, Verdict.TAKE, id="held, never renewed"),
        pytest.param(_record("other", 0.5, 1), 0.0, Verdict.WAIT, id="a lease of 1 s renewed 0.5 s ago"),
    ],
)
def test_lease_verdict(record: LeaseRecord | None, unchanged_for: float | None, expected: Verdict) -> None:
    assert lease_verdict(record, "me", NOW, unchanged_for) is expected


@pytest.mark.parametrize(
    "timing",
    [LeaseTiming(15, 15, 2), LeaseTiming(15, 10, 10), LeaseTiming(10, 15, 2), LeaseTiming(15, 10, 0)],
)
def test_timing_must_let_the_holder_give_up_before_its_lease_expires(timing: LeaseTiming) -> None:
    with pytest.raises(ValueError, match="retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds"):
        timing.check()


def test_leader_election_settings_from_the_chart() -> None:
    env = {
        "REELKUBE_LEADER_ELECTION": "true",
        "REELKUBE_LEASE_NAME": "rk-lease",
        "REELKUBE_LEASE_NAMESPACE": "reelkube-system",
        "REELKUBE_POD_NAME": "reelkube-abc",
        "REELKUBE_LEASE_DURATION_SECONDS": "20",
        "REELKUBE_LEASE_RENEW_DEADLINE_SECONDS": "12",
        "REELKUBE_LEASE_RETRY_SECONDS": "3",
    }
    election = leader_election_from_env(env)
    assert (election.enabled, election.lease_name, election.namespace, election.identity) == (
        True,
        "rk-lease",
        "reelkube-system",
        "reelkube-abc",
    )
    assert (election.lease_seconds, election.renew_deadline_seconds, election.retry_seconds) == (20, 12, 3)


def test_leader_election_is_off_by_default_and_names_itself_by_host() -> None:
    election = leader_election_from_env({"HOSTNAME": "laptop"})
    assert not election.enabled and election.identity == "laptop"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REELKUBE_LEADER_ELECTION": "true"}, "needs REELKUBE_LEASE_NAMESPACE"),
        (
            {
                "REELKUBE_LEADER_ELECTION": "true",
                "REELKUBE_LEASE_NAMESPACE": "ns",
                "REELKUBE_LEASE_RENEW_DEADLINE_SECONDS": "20",
            },
            "REELKUBE_LEASE_RETRY_SECONDS < REELKUBE_LEASE_RENEW_DEADLINE_SECONDS",
        ),
        ({"REELKUBE_LEADER_ELECTION": "maybe"}, "must be true or false"),
    ],
)
def test_bad_leader_election_settings_fail_the_start_with_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        leader_election_from_env(env)
