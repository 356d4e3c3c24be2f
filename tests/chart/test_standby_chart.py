"""The chart's standby operator: two replicas behind a Lease, a PodDisruptionBudget, and the
Lease's RBAC (helm template). Failover itself: tests/e2e/test_standby_cluster.py."""

from __future__ import annotations

from typing import Any

import pytest
from tests.chart.test_chart import find, helm, helm_binary, needs_helm, template

__all__ = ["helm_binary"]  # the fixture needs_helm asks for

CHART_ARGS = [
    "template",
    "reelkube",
    "charts/reelkube",
    "--namespace",
    "reelkube-system",
    "--kube-version",
    "1.35.0",
]


def _deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [d for d in find(docs, "Deployment") if d["metadata"]["name"] == "reelkube"]
    return deployment


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


@needs_helm
def test_default_is_two_replicas_one_lease_and_a_budget() -> None:
    docs = template()
    deployment = _deployment(docs)
    assert deployment["spec"]["replicas"] == 2
    # Pods of a new revision start as standbys, so old and new may overlap.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    env = _env(deployment)
    assert env["REELKUBE_LEADER_ELECTION"] == "true"
    assert env["REELKUBE_LEASE_NAME"] == "reelkube-operator"
    assert (
        env["REELKUBE_LEASE_DURATION_SECONDS"],
        env["REELKUBE_LEASE_RENEW_DEADLINE_SECONDS"],
        env["REELKUBE_LEASE_RETRY_SECONDS"],
    ) == ("10", "7", "2")
    assert env["REELKUBE_LEASE_NAMESPACE"] == "reelkube-system"
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]

    (budget,) = find(docs, "PodDisruptionBudget")
    assert budget["metadata"]["namespace"] == "reelkube-system"
    assert budget["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]},
    }


@needs_helm
def test_the_lease_role_is_namespaced_and_limited_to_the_lease() -> None:
    docs = template("operator.leaderElection.leaseName=rk-lease")
    (role,) = find(docs, "Role", "reelkube-leader-election", "reelkube-system")
    rules = {tuple(r["verbs"]): r for r in role["rules"]}
    assert set(rules) == {("create",), ("get", "update")}
    assert all(
        r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"] for r in role["rules"]
    )
    assert rules[("get", "update")]["resourceNames"] == ["rk-lease"]
    (binding,) = find(docs, "RoleBinding", "reelkube-leader-election", "reelkube-system")
    assert binding["roleRef"]["name"] == "reelkube-leader-election"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "reelkube", "namespace": "reelkube-system"}
    ]
    # Nothing cluster-wide grants leases.
    for cluster_role in find(docs, "ClusterRole"):
        assert not any("leases" in r.get("resources", []) for r in cluster_role["rules"])
    assert _env(_deployment(docs))["REELKUBE_LEASE_NAME"] == "rk-lease"


@needs_helm
def test_one_replica_without_election_is_the_old_single_operator() -> None:
    docs = template("operator.replicas=1", "operator.leaderElection.enabled=false")
    deployment = _deployment(docs)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert _env(deployment)["REELKUBE_LEADER_ELECTION"] == "false"
    assert "affinity" not in deployment["spec"]["template"]["spec"]
    assert find(docs, "PodDisruptionBudget") == []
    assert find(docs, "Role", "reelkube-leader-election") == []


@needs_helm
def test_one_replica_gets_no_budget_that_would_block_drains() -> None:
    docs = template("operator.replicas=1")
    assert find(docs, "PodDisruptionBudget") == []
    assert _env(_deployment(docs))["REELKUBE_LEADER_ELECTION"] == "true"


@needs_helm
@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["operator.leaderElection.enabled=false"],
            "operator.replicas > 1 needs operator.leaderElection.enabled",
        ),
        (
            ["operator.leaderElection.renewDeadlineSeconds=20"],
            "retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds",
        ),
        (["operator.replicas=0"], "replicas"),
        (["operator.podDisruptionBudget.maxUnavailable=0"], "maxUnavailable"),
        (["operator.leaderElection.leaseName=Not_A_Name"], "leaseName"),
    ],
)
def test_unsafe_standby_values_fail_with_the_value_named(sets: list[str], message: str) -> None:
    args = list(CHART_ARGS)
    for item in sets:
        args += ["--set", item]
    proc = helm(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
