"""The kopf handlers against the real cluster, with the operator running in-process (KopfRunner).

Render pods are placed on the fake kwok node (a node selector and toleration from the
operator's settings): kwok runs them to completion instantly, so these tests exercise the
operator's logic (Jobs, status, restarts, the concurrency limit, webhooks, RBAC) without
rendering anything. The end-to-end tests (tests/e2e) render for real.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from kopf.testing import KopfRunner
from prometheus_client.parser import text_string_to_metric_families

from reelkube.api.kinds import RENDER_JOB
from reelkube.controller.job_manifests import CHILD_BUILDERS, build_job, child_name
from reelkube.controller.settings import settings_from_env
from support.network import StallingServer
from support.reelkube_cluster import (
    KWOK_SELECTOR,
    KWOK_TOLERATIONS,
    ROOT,
    Cluster,
    ensure_kwok_ephemeral_storage,
    get_resource,
    install_crds,
    managed_jobs,
    phase_is,
    wait_for_resource,
)

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)


def render_job(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": "static-ad",
            "props": {"headline": "Hi"},
            "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
            **spec,
        },
    }


@contextmanager
def operator(
    cluster: Cluster,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    placement: str = "kwok",
    also: tuple[str, ...] = (),
    **env: str,
) -> Iterator[KopfRunner]:
    """Run the operator in this process, watching ``namespace`` (and the namespaces ``also``)."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setenv("REELKUBE_METRICS_PORT", "0")
    monkeypatch.setenv("REELKUBE_WATCH_NAMESPACES", ",".join((namespace, *also)))
    monkeypatch.setenv("REELKUBE_RENDERER_IMAGE", cluster.renderer_image)
    monkeypatch.setenv("REELKUBE_IMAGE_PULL_POLICY", "Never")
    if placement == "kwok":
        monkeypatch.setenv("REELKUBE_JOB_NODE_SELECTOR", json.dumps(KWOK_SELECTOR))
        monkeypatch.setenv("REELKUBE_JOB_TOLERATIONS", json.dumps(KWOK_TOLERATIONS))
    elif placement == "nowhere":  # pods stay Pending, Jobs stay active
        monkeypatch.setenv("REELKUBE_JOB_NODE_SELECTOR", json.dumps({"reelkube.io/no-such-node": "true"}))
    else:  # "cluster": no placement of our own; the scheduler (and the GPU settings) decide
        assert placement == "cluster", placement
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    watched = [arg for name in (namespace, *also) for arg in ("--namespace", name)]
    args = ["run", "--standalone", *watched, "-m", "reelkube.controller.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        yield runner
    assert runner.exception is None, runner.output[-4000:]


def test_resource_gets_one_job_and_succeeds(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch):
        cluster.apply(render_job("ad", namespace))
        body = wait_for_resource(cluster, "renderjobs", namespace, "ad", phase_is("Succeeded"), timeout=90)
        # Re-applying the unchanged resource does nothing.
        cluster.apply(render_job("ad", namespace))
        time.sleep(3)
    status = body["status"]
    assert status["progress"] == 100 and status["observedGeneration"] == 1
    assert status["completionTime"] and status["jobName"].startswith("rj-ad-")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}
    jobs = managed_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [status["jobName"]]
    uid = body["metadata"]["uid"]
    for kind in ("configmap", "serviceaccount", "role", "rolebinding"):
        child = cluster.kubectl_json("-n", namespace, "get", kind, status["jobName"])
        assert child["metadata"]["ownerReferences"][0]["uid"] == uid
    assert "reelkube.io/last-handled-configuration" in body["metadata"]["annotations"]
    assert not body["metadata"].get("finalizers"), "no finalizers: deletion must not need the operator"


def test_pod_identity_can_patch_only_its_own_status(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere"):
        cluster.apply(render_job("mine", namespace))
        cluster.apply(render_job("other", namespace))
        body = wait_for_resource(
            cluster, "renderjobs", namespace, "mine", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
    account = f"system:serviceaccount:{namespace}:{body['status']['jobName']}"

    def can(verb: str, target: str, *extra: str) -> bool:
        proc = cluster.kubectl(
            "auth", "can-i", verb, target, "-n", namespace, "--as", account, *extra, check=False
        )
        return proc.stdout.strip() == "yes"

    assert can("patch", "renderjobs.reelkube.io/mine", "--subresource=status")
    assert can("get", "renderjobs.reelkube.io/mine", "--subresource=status")
    assert not can("patch", "renderjobs.reelkube.io/other", "--subresource=status")
    assert not can("patch", "renderjobs.reelkube.io/mine")  # the spec stays out of reach
    assert not can("get", "secrets")
    assert not can("create", "pods")


def test_operator_restart_never_makes_a_second_job(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crash right after the Job was created, before anything was written to the status:
    # simulate it by creating the children ourselves while no operator runs.
    cluster.apply(render_job("crashy", namespace))
    body = get_resource(cluster, "renderjobs", namespace, "crashy")
    assert body is not None
    resource = RENDER_JOB.parse(body)
    settings = settings_from_env(
        {
            "REELKUBE_JOB_NODE_SELECTOR": json.dumps(KWOK_SELECTOR),
            "REELKUBE_JOB_TOLERATIONS": json.dumps(KWOK_TOLERATIONS),
            "REELKUBE_RENDERER_IMAGE": cluster.renderer_image,
        }
    )
    for builder in (*CHILD_BUILDERS, build_job):
        cluster.apply(builder(resource, settings))
    with operator(cluster, namespace, monkeypatch):
        wait_for_resource(cluster, "renderjobs", namespace, "crashy", phase_is("Succeeded"), timeout=90)
    with operator(cluster, namespace, monkeypatch):  # and a plain restart afterwards
        time.sleep(5)
    jobs = managed_jobs(cluster, namespace)
    assert [j["metadata"]["name"] for j in jobs] == [child_name(resource)]


def test_concurrency_limit_queues_then_admits_oldest_first(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere", REELKUBE_MAX_RUNNING_JOBS="1"):
        cluster.apply(render_job("first", namespace))
        wait_for_resource(
            cluster, "renderjobs", namespace, "first", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
        cluster.apply(render_job("second", namespace))
        time.sleep(1)
        cluster.apply(render_job("third", namespace))
        for name in ("second", "third"):
            held = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                name,
                lambda b: (b.get("status") or {}).get("reason") == "ConcurrencyLimit",
            )
            assert held["status"]["phase"] == "Queued" and "jobName" not in held["status"]
            assert "1 of 1" in held["status"]["message"]
        assert len(managed_jobs(cluster, namespace)) == 1
        # Deleting the running one frees the slot: the oldest waiting resource gets it.
        cluster.kubectl("-n", namespace, "delete", "renderjob", "first", "--wait=true")
        wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "second",
            lambda b: bool((b.get("status") or {}).get("jobName")),
            timeout=60,
        )
        time.sleep(3)
        third = get_resource(cluster, "renderjobs", namespace, "third")
        assert third is not None and "jobName" not in third["status"]
        assert (
            len([j for j in managed_jobs(cluster, namespace) if not j["metadata"].get("deletionTimestamp")])
            == 1
        )


def test_unschedulable_pod_is_queued_with_the_reason_and_a_deleted_job_cancels(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere"):
        cluster.apply(render_job("stuck", namespace))
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "stuck",
            lambda b: (b.get("status") or {}).get("reason") == "Unschedulable",
            timeout=60,
        )
        assert body["status"]["phase"] == "Queued"
        assert "node" in body["status"]["message"].lower()
        cluster.kubectl("-n", namespace, "delete", "job", body["status"]["jobName"])
        canceled = wait_for_resource(
            cluster, "renderjobs", namespace, "stuck", phase_is("Canceled"), timeout=60
        )
    assert canceled["status"]["reason"] == "JobDeleted"
    conditions = {c["type"]: c for c in canceled["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Stalled"]["status"] == "True"


def test_webhook_is_delivered_and_recorded(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch, webhook_receiver: Any
) -> None:
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "hook", "--from-literal=secret=s3cr3t")
    webhook = {"url": webhook_receiver.url, "events": ["succeeded"], "secretRef": "hook"}
    # The receiver is on loopback, which the operator's destination policy refuses unless allowed.
    monkeypatch.setenv("REELKUBE_INPUTS_ALLOWED_CIDRS", "127.0.0.0/8")
    with operator(cluster, namespace, monkeypatch):
        cluster.apply(render_job("hooked", namespace, webhook=webhook))
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "hooked",
            lambda b: ((b.get("status") or {}).get("webhook") or {}).get("state") == "Delivered",
            timeout=90,
        )
    assert body["status"]["phase"] == "Succeeded"
    assert body["status"]["webhook"]["event"] == "succeeded" and body["status"]["webhook"]["attempts"] == 1
    from reelkube.webhooks import verify_signature

    requests = webhook_receiver.requests
    assert len(requests) == 1
    request = requests[0]
    assert request.json()["phase"] == "Succeeded" and request.json()["metadata"]["name"] == "hooked"
    assert verify_signature(request.body, b"s3cr3t", request.header("X-Reelkube-Signature"))


def chart_gpu_values() -> dict[str, Any]:
    """The chart's default ``gpu`` values (what a plain ``helm install`` gives the operator)."""
    values = yaml.safe_load((ROOT / "charts" / "reelkube" / "values.yaml").read_text())
    return dict(values["gpu"])


def job_pod(cluster: Cluster, namespace: str, job_name: str, *, timeout: float = 60) -> dict[str, Any]:
    """The (first) pod of a Job, once the scheduler has placed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = cluster.kubectl_json(
            "-n", namespace, "get", "pods", "-l", f"batch.kubernetes.io/job-name={job_name}"
        )["items"]
        if pods and pods[0]["spec"].get("nodeName"):
            return dict(pods[0])
        time.sleep(0.5)
    pytest.fail(f"no scheduled pod for Job {namespace}/{job_name} in {timeout}s", pytrace=False)


def test_gpu_output_requests_a_gpu_and_lands_on_the_gpu_node(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No placement of our own: only the GPU settings (the chart's tolerations plus the node
    # selector a GPU pool would use) can bring a pod onto the tainted fake GPU node. The image
    # does not exist, so the plain pod on the real node never runs (kwok ignores images).
    gpu = chart_gpu_values()
    assert gpu["tolerations"], "the chart tolerates the GPU taint by default"
    selector = {**gpu["nodeSelector"], "nvidia.com/gpu.present": "true"}
    with operator(
        cluster,
        namespace,
        monkeypatch,
        placement="cluster",
        REELKUBE_RENDERER_IMAGE="reelkube/no-such-image:never",
        REELKUBE_GPU_NODE_SELECTOR=json.dumps(selector),
        REELKUBE_GPU_TOLERATIONS=json.dumps(gpu["tolerations"]),
    ):
        cluster.apply(render_job("gpu", namespace, output={"format": "mp4", "codec": "h264", "gpu": True}))
        cluster.apply(render_job("plain", namespace))
        gpu_body = wait_for_resource(
            cluster, "renderjobs", namespace, "gpu", phase_is("Succeeded"), timeout=90
        )
        plain_body = wait_for_resource(
            cluster, "renderjobs", namespace, "plain", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
        gpu_pod = job_pod(cluster, namespace, gpu_body["status"]["jobName"])
        plain_pod = job_pod(cluster, namespace, plain_body["status"]["jobName"])

    gpu_spec = gpu_pod["spec"]
    assert gpu_spec["nodeName"] == cluster.gpu_node
    assert gpu_spec["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert gpu_spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu_spec["nodeSelector"] == selector
    for toleration in gpu["tolerations"]:
        assert toleration in gpu_spec["tolerations"]

    plain_spec = plain_pod["spec"]
    assert plain_spec["nodeName"] == cluster.node_name
    assert "nvidia.com/gpu" not in plain_spec["containers"][0]["resources"]["requests"]
    assert "nvidia.com/gpu" not in plain_spec["containers"][0]["resources"]["limits"]
    assert "nodeSelector" not in plain_spec
    assert not any(t.get("key") == "nvidia.com/gpu" for t in plain_spec.get("tolerations") or [])


def test_pod_outliving_its_deadline_fails_with_deadline_exceeded(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # kwok completes Job pods at once, so this one runs for real on the real node: the renderer
    # starts downloading its background from a server that never answers, and keeps running
    # past spec.timeoutSeconds (its own download timeout is 30 s).
    pods_reach_host = urlparse(cluster.s3_endpoint).hostname
    assert pods_reach_host
    server = StallingServer(pods_reach_host)
    try:
        with operator(
            cluster,
            namespace,
            monkeypatch,
            placement="cluster",
            REELKUBE_TERMINATION_GRACE_SECONDS="2",
            # The stalling server is at the bridge gateway, a private address pods may not reach
            # unless the chart allows it.
            REELKUBE_INPUTS_ALLOWED_CIDRS=f"{pods_reach_host}/32",
        ):
            cluster.apply(
                {
                    "apiVersion": "reelkube.io/v1alpha1",
                    "kind": "RenderJob",
                    "metadata": {"name": "slow", "namespace": namespace},
                    "spec": {
                        "template": "captioned-reel",
                        "props": {
                            "title": "Late",
                            "backgroundUrl": f"http://{server.host}:{server.port}/bg.jpg",
                        },
                        "resources": {"cpu": "250m", "memory": "512Mi", "ephemeralStorage": "200Mi"},
                        "timeoutSeconds": 10,
                        "retries": 0,
                    },
                }
            )
            seen: list[dict[str, Any]] = []
            body = wait_for_resource(
                cluster, "renderjobs", namespace, "slow", phase_is("Failed"), timeout=150, seen=seen
            )
    finally:
        server.close()
    status = body["status"]
    assert status["reason"] == "DeadlineExceeded"
    assert "10s" in status["message"] and "timeoutSeconds" in status["message"]
    assert "Running" in [s.get("phase") for s in seen], "the pod ran before the deadline hit"
    assert server.connections, "the render pod was downloading when the deadline hit"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == "False"
    job = cluster.kubectl_json("-n", namespace, "get", "job", status["jobName"])
    assert job["spec"]["activeDeadlineSeconds"] == 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int, *, timeout: float = 30) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the operator's /metrics as ``{(name, sorted labels): value}``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_endpoint_counts_a_reconciled_resource(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    kind = (("kind", "RenderJob"),)
    with operator(cluster, namespace, monkeypatch, REELKUBE_METRICS_PORT=str(port)):
        before = scrape(port)
        cluster.apply(render_job("counted", namespace))
        wait_for_resource(cluster, "renderjobs", namespace, "counted", phase_is("Succeeded"), timeout=90)
        time.sleep(1)  # the phase gauge is updated right after the status write
        after = scrape(port)
    assert before.get(("reelkube_jobs_created_total", kind), 0) == 0
    assert after[("reelkube_jobs_created_total", kind)] == 1
    assert after[("reelkube_apply_to_job_created_seconds_count", kind)] == 1
    assert after[("reelkube_apply_to_job_created_seconds_sum", kind)] >= 0
    created = (("kind", "RenderJob"), ("trigger", "create"))
    assert after[("reelkube_reconcile_duration_seconds_count", created)] >= 1
    assert before.get(("reelkube_reconcile_duration_seconds_count", created), 0) == 0
    assert after[("reelkube_resources", (("kind", "RenderJob"), ("phase", "Succeeded")))] == 1
    assert ("reelkube_resources", (("kind", "RenderJob"), ("phase", "Succeeded"))) not in before
    succeeded = (("kind", "RenderJob"), ("phase", "Succeeded"))
    assert after[("reelkube_phase_transitions_total", succeeded)] == 1


def has_job(body: dict[str, Any]) -> bool:
    return bool((body.get("status") or {}).get("jobName"))


def test_cancel_deletes_a_running_job_and_is_one_way(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere"):
        cluster.apply(render_job("stopme", namespace))
        started = wait_for_resource(cluster, "renderjobs", namespace, "stopme", has_job)
        # Any other spec change is refused by the API server (the CEL rules), cancel is not.
        changed = cluster.kubectl(
            "-n",
            namespace,
            "patch",
            "renderjob",
            "stopme",
            "--type=merge",
            "-p",
            '{"spec":{"retries":0}}',
            check=False,
        )
        assert changed.returncode != 0 and "spec.retries is immutable" in changed.stderr
        cluster.kubectl(
            "-n", namespace, "patch", "renderjob", "stopme", "--type=merge", "-p", '{"spec":{"cancel":true}}'
        )
        canceled = wait_for_resource(
            cluster, "renderjobs", namespace, "stopme", phase_is("Canceled"), timeout=30
        )
        undo = cluster.kubectl(
            "-n",
            namespace,
            "patch",
            "renderjob",
            "stopme",
            "--type=merge",
            "-p",
            '{"spec":{"cancel":false}}',
            check=False,
        )
        assert undo.returncode != 0 and "spec.cancel cannot be undone" in undo.stderr
    assert canceled["status"]["reason"] == "CanceledByUser" and "outputs" not in canceled["status"]
    job_name = started["status"]["jobName"]
    assert job_name in canceled["status"]["message"]
    remaining = [j for j in managed_jobs(cluster, namespace) if not j["metadata"].get("deletionTimestamp")]
    assert remaining == []


def test_cancel_of_a_queued_resource_never_creates_its_job(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch, placement="nowhere", REELKUBE_MAX_RUNNING_JOBS="1"):
        cluster.apply(render_job("busy", namespace))
        wait_for_resource(cluster, "renderjobs", namespace, "busy", has_job)
        cluster.apply(render_job("waiting", namespace))
        wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "waiting",
            lambda b: (b.get("status") or {}).get("reason") == "ConcurrencyLimit",
        )
        cluster.kubectl(
            "-n", namespace, "patch", "renderjob", "waiting", "--type=merge", "-p", '{"spec":{"cancel":true}}'
        )
        canceled = wait_for_resource(
            cluster, "renderjobs", namespace, "waiting", phase_is("Canceled"), timeout=30
        )
        cluster.kubectl("-n", namespace, "delete", "renderjob", "busy", "--wait=true")
        time.sleep(3)
    assert canceled["status"]["reason"] == "CanceledByUser" and "jobName" not in canceled["status"]
    assert managed_jobs(cluster, namespace) == [] or all(
        j["metadata"].get("deletionTimestamp") for j in managed_jobs(cluster, namespace)
    )


def test_a_job_removed_while_the_operator_was_down_keeps_the_pods_outcome(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a finished render leaves when its Job's TTL ran out while no operator watched: the
    # status the pod wrote (step done, outputs), and a jobName that no longer exists.
    cluster.apply(render_job("finished", namespace))
    reported = {
        "status": {
            "phase": "Running",
            "jobName": "rj-finished-gone",
            "step": "done",
            "progress": 100,
            "outputs": {"video": {"uri": "s3://renders/finished.mp4"}},
        }
    }
    cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "renderjob",
        "finished",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(reported),
    )
    with operator(cluster, namespace, monkeypatch):
        body = wait_for_resource(
            cluster, "renderjobs", namespace, "finished", phase_is("Succeeded"), timeout=30
        )
    assert body["status"]["reason"] == "JobCompletedWhileOperatorDown"
    assert body["status"]["outputs"]["video"]["uri"] == "s3://renders/finished.mp4"
    assert managed_jobs(cluster, namespace) == [], "no second render"


def queue_position(body: dict[str, Any]) -> int | None:
    return (body.get("status") or {}).get("queuePosition")


def test_priority_orders_the_queue_under_a_limit_of_two(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    six = {"low-old": -5, "normal-a": 0, "normal-b": 0, "low-new": -5, "high": 5, "urgent": 10}
    expected = ["urgent", "high", "normal-a", "normal-b", "low-old", "low-new"]
    with operator(cluster, namespace, monkeypatch, placement="nowhere", REELKUBE_MAX_RUNNING_JOBS="2"):
        for blocker in ("blocker-1", "blocker-2"):
            cluster.apply(render_job(blocker, namespace))
            wait_for_resource(cluster, "renderjobs", namespace, blocker, has_job)
        for name, priority in six.items():
            cluster.apply(render_job(name, namespace, priority=priority))
            time.sleep(1.1)  # creationTimestamp has whole seconds: one age each
        for position, name in enumerate(expected, start=1):
            body = wait_for_resource(
                cluster, "renderjobs", namespace, name, lambda b, p=position: queue_position(b) == p
            )
            assert body["status"]["reason"] == "ConcurrencyLimit"
            assert body["status"]["message"].startswith(f"{position}")
        # Free one slot at a time (the running resource with a Job goes): the next in queue
        # order, and only it, gets a Job.
        started: list[str] = []
        running = ["blocker-1", "blocker-2"]
        for _ in expected:
            cluster.kubectl("-n", namespace, "delete", "renderjob", running.pop(0), "--wait=true")
            deadline = time.monotonic() + 30
            newcomers: list[str] = []
            while time.monotonic() < deadline and not newcomers:
                newcomers = [
                    name
                    for name in expected
                    if name not in started
                    and has_job(get_resource(cluster, "renderjobs", namespace, name) or {})
                ]
                time.sleep(0.2)
            assert len(newcomers) == 1, newcomers
            started.extend(newcomers)
            running.extend(newcomers)
    assert started == expected


def test_a_namespace_limit_holds_while_another_namespace_proceeds(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"{namespace}-b"
    cluster.kubectl("create", "namespace", other)
    try:
        cluster.kubectl("annotate", "namespace", namespace, "reelkube.io/max-running=1")
        with operator(cluster, namespace, monkeypatch, placement="nowhere", also=(other,)):
            for name in ("a1", "a2"):
                cluster.apply(render_job(name, namespace))
                time.sleep(1.1)
            for name in ("b1", "b2"):
                cluster.apply(render_job(name, other))
            wait_for_resource(cluster, "renderjobs", namespace, "a1", has_job)
            held = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                "a2",
                lambda b: (b.get("status") or {}).get("reason") == "NamespaceLimit",
            )
            for name in ("b1", "b2"):
                wait_for_resource(cluster, "renderjobs", other, name, has_job)
            # Lifting the annotation lets the held one go, without restarting anything.
            cluster.kubectl("annotate", "namespace", namespace, "reelkube.io/max-running=0", "--overwrite")
            wait_for_resource(cluster, "renderjobs", namespace, "a2", has_job, timeout=60)
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
    assert held["status"]["phase"] == "Queued" and held["status"]["queuePosition"] == 1
    assert held["status"]["message"] == f"1st in namespace {namespace}: 1 of 1 RenderJobs running there"


def test_each_transition_is_a_kubernetes_event_on_the_resource(
    cluster: Cluster, crds: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator(cluster, namespace, monkeypatch):
        cluster.apply(render_job("told", namespace))
        body = wait_for_resource(cluster, "renderjobs", namespace, "told", phase_is("Succeeded"), timeout=90)
        time.sleep(2)  # Events are sent off the reconcile path
    events = cluster.kubectl_json(
        "-n", namespace, "get", "events", "--field-selector", "involvedObject.name=told"
    )["items"]
    ours = [e for e in events if e.get("source", {}).get("component") == "reelkube-operator"]
    reasons = [e["reason"] for e in sorted(ours, key=lambda e: e["metadata"]["name"])]
    assert reasons[0] == "Queued" and reasons[-1] == "Succeeded", reasons
    assert all(e["involvedObject"]["uid"] == body["metadata"]["uid"] for e in ours)
    described = cluster.kubectl("-n", namespace, "describe", "renderjob", "told").stdout
    assert "Succeeded" in described and "reelkube-operator" in described
