"""Kueue admitting RenderJobs on the real cluster (``spec.queueName``).

Kueue's own manager runs in the test cluster: the binary that ``tests/cluster/build.sh kueue``
builds from the Go module proxy, packaged by ``tests/cluster/images.sh kueue`` as an empty
image, installed from Kueue's Helm chart of the same module version (``helm template``), with
its internal certificate management serving its webhooks. Its on-demand visibility API (an
aggregated API server, which the test cluster's API server does not proxy to) is off, and its
webhooks and Job management only look at namespaces labelled ``reelkube.io/kueue-test``, so that
the other tests' Jobs never wait on it. The module installs it, and removes every trace of it at the end.

The operator runs as a process on this machine with its render pods on the kwok node, which
completes Job pods at once: what is under test is who decides when a Job runs, not the render.

Skipped unless the Kueue build exists (``tests/cluster/build.sh kueue``, or ``make kueue-test``,
which builds it and runs this file). Run under the cluster lock::

    flock -o /tmp/reelkube-cluster.lock python -m pytest -q -p no:cacheprovider -m cluster \
        tests/e2e/test_kueue_cluster.py
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cluster import CLUSTER_GROUP, Cluster, run_script
from support.operator_process import operator_process
from support.reelkube_cluster import (
    CLUSTER_TESTS,
    create_storage_secret,
    ensure_kwok_ephemeral_storage,
    get_resource,
    host_s3_client,
    install_crds,
    managed_jobs,
    phase_is,
    wait_for_resource,
)

# One worker for the whole module (pytest-xdist): its Kueue install is module-scoped and
# cluster-wide, so two workers would install and remove it under each other.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.xdist_group(CLUSTER_GROUP)]

# The tests with Kueue itself running: outside the default run (Kueue's build takes about 20 min
# cold), run by `make kueue-test`. The suspend contract without Kueue is in the default run.
REAL_KUEUE = pytest.mark.kueue

KUEUE_NS = "kueue-system"
KUEUE_IMAGE = "reelkube/kueue:dev"
TEST_LABEL = "reelkube.io/kueue-test"
FLAVOR, CLUSTER_QUEUE, LOCAL_QUEUE = "reelkube-default", "reelkube-renders", "renders"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_API = "kueue.x-k8s.io/v1beta1"


def kueue_version() -> str:
    """The Kueue version build.sh builds (tests/cluster/versions.sh)."""
    found = re.search(
        r'KUEUE_VERSION="\$\{KUEUE_VERSION:-([^}]+)\}"', (CLUSTER_TESTS / "versions.sh").read_text()
    )
    assert found, "KUEUE_VERSION missing from tests/cluster/versions.sh"
    return found.group(1)


def kueue_build(bin_dir: Path) -> tuple[Path, Path]:
    """The Kueue binary and chart ``build.sh kueue`` leaves in the cache."""
    cache = bin_dir.parent.parent  # <cache>/k8s-<version>/bin
    return bin_dir / "kueue", cache / f"kueue-{kueue_version()}" / "chart"


MANAGER_CONFIG = """\
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
health:
  healthProbeBindAddress: :8081
metrics:
  bindAddress: :8443
webhook:
  port: 9443
leaderElection:
  leaderElect: false
controller:
  groupKindConcurrency:
    Job.batch: 5
    Workload.kueue.x-k8s.io: 5
    LocalQueue.kueue.x-k8s.io: 1
    ClusterQueue.kueue.x-k8s.io: 1
    ResourceFlavor.kueue.x-k8s.io: 1
clientConnection:
  qps: 50
  burst: 100
managedJobsNamespaceSelector:
  matchLabels:
    reelkube.io/kueue-test: "true"
integrations:
  frameworks:
  - "batch/job"
"""


def kueue_manifests(cluster: Cluster, chart: Path) -> list[dict[str, Any]]:
    """Kueue's chart rendered for this cluster: our image (never pulled), a small footprint,
    only the batch/job integration, no aggregated API, webhooks scoped to the test namespaces."""
    values = {
        "controllerManager": {
            # Its on-demand visibility API is an aggregated API server, which the test cluster's
            # API server is not configured to proxy to: not started, and its APIService left out.
            "featureGates": [{"name": "VisibilityOnDemand", "enabled": False}],
            "manager": {
                "image": {"repository": KUEUE_IMAGE.split(":")[0], "tag": "dev", "pullPolicy": "Never"},
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
            },
        },
        "managerConfig": {"controllerManagerConfigYaml": MANAGER_CONFIG},
    }
    values_file = chart.parent / "reelkube-values.yaml"
    values_file.write_text(json.dumps(values))
    rendered = cluster.helm(
        "template", "kueue", str(chart), "--namespace", KUEUE_NS, "-f", str(values_file)
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    kept = []
    for doc in docs:
        if doc["kind"] == "APIService":
            continue  # the visibility API: needs the API server's aggregation layer
        if doc["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for hook in doc.get("webhooks") or []:
                hook["namespaceSelector"] = {"matchLabels": {TEST_LABEL: "true"}}
        kept.append(doc)
    return kept


def as_list(docs: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def kueue_object(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": KUEUE_API, "kind": kind, "metadata": meta, "spec": spec}


def cluster_queue(cpu: str) -> dict[str, Any]:
    """The ClusterQueue: ``cpu`` of quota, memory and scratch disk to spare (Kueue admits only
    Jobs whose every requested resource the queue covers)."""
    return kueue_object(
        "ClusterQueue",
        CLUSTER_QUEUE,
        {
            "namespaceSelector": {},
            "queueingStrategy": "StrictFIFO",
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory", "ephemeral-storage"],
                    "flavors": [
                        {
                            "name": FLAVOR,
                            "resources": [
                                {"name": "cpu", "nominalQuota": cpu},
                                {"name": "memory", "nominalQuota": "64Gi"},
                                {"name": "ephemeral-storage", "nominalQuota": "1Ti"},
                            ],
                        }
                    ],
                }
            ],
        },
    )


def apply_until_accepted(cluster: Cluster, manifest: dict[str, Any], timeout: float = 180) -> None:
    """Apply through Kueue's webhooks, retrying while they are not served yet (the manager makes
    its certificates and injects them into the webhook configurations after it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        proc = cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(manifest), check=False)
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"Kueue did not accept {manifest['kind']}: {proc.stderr[-2000:]}", pytrace=False)
        time.sleep(2)


def uninstall_kueue(cluster: Cluster, docs: list[dict[str, Any]]) -> None:
    """Remove Kueue: its objects while the manager still runs (their finalizers are its to
    remove), then its webhooks (so nothing waits on a manager that is going), then the rest."""
    for kind in ("workloads", "localqueues"):
        cluster.kubectl("delete", f"{kind}.kueue.x-k8s.io", "-A", "--all", "--timeout=60s", check=False)
    for kind in ("clusterqueues", "resourceflavors"):
        cluster.kubectl("delete", f"{kind}.kueue.x-k8s.io", "--all", "--timeout=60s", check=False)
    hooks = [d for d in docs if d["kind"].endswith("WebhookConfiguration")]
    cluster.kubectl("delete", "--ignore-not-found", "-f", "-", input=as_list(hooks), check=False)
    for kind in ("workloads", "localqueues", "clusterqueues", "resourceflavors"):
        # Whatever the manager did not finalize in time would block its CRD's deletion.
        listed = cluster.kubectl("get", f"{kind}.kueue.x-k8s.io", "-A", "-o", "json", check=False)
        for item in json.loads(listed.stdout or '{"items": []}').get("items", []):
            meta = item["metadata"]
            where = ["-n", meta["namespace"]] if meta.get("namespace") else []
            cluster.kubectl(
                *where, "patch", f"{kind}.kueue.x-k8s.io", meta["name"], "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False,
            )  # fmt: skip
    rest = [d for d in docs if not d["kind"].endswith("WebhookConfiguration")]
    cluster.kubectl(
        "delete", "--ignore-not-found", "--timeout=120s", "-f", "-", input=as_list(rest), check=False
    )
    cluster.kubectl("delete", "namespace", KUEUE_NS, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="module")
def kueue(cluster: Cluster) -> Iterator[None]:
    """Kueue's manager running in the cluster with a ResourceFlavor and a ClusterQueue of no CPU
    quota (each test sets the quota it needs); removed at the end of the module."""
    binary, chart = kueue_build(cluster.bin_dir)
    if not binary.exists() or not (chart / "Chart.yaml").exists():
        pytest.skip(
            f"no Kueue build ({binary}, {chart}): run tests/cluster/build.sh kueue (or make kueue-test)"
        )
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)
    run_script("images.sh", "kueue", timeout=1800)
    docs = kueue_manifests(cluster, chart)
    cluster.kubectl("create", "namespace", KUEUE_NS, check=False)
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    try:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=as_list(crds))
        for crd in crds:
            name = crd["metadata"]["name"]
            cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=as_list(rest))
        rollout = cluster.kubectl(
            "-n", KUEUE_NS, "rollout", "status", "deployment/kueue-controller-manager", "--timeout=240s",
            check=False, timeout=260,
        )  # fmt: skip
        if rollout.returncode != 0:
            logs = cluster.kubectl("-n", KUEUE_NS, "logs", "deployment/kueue-controller-manager", check=False)
            pods = cluster.kubectl("-n", KUEUE_NS, "describe", "pods", check=False)
            pytest.fail(
                f"Kueue's manager did not become ready:\n{logs.stdout[-4000:]}{logs.stderr[-1000:]}\n"
                f"{pods.stdout[-3000:]}",
                pytrace=False,
            )
        apply_until_accepted(cluster, kueue_object("ResourceFlavor", FLAVOR, {}))
        apply_until_accepted(cluster, cluster_queue("0"))
        yield
    finally:
        uninstall_kueue(cluster, docs)


@pytest.fixture
def queue_namespace(cluster: Cluster, kueue: None, namespace: str) -> str:
    """A test namespace Kueue manages, with its LocalQueue pointing at the ClusterQueue."""
    cluster.kubectl("label", "namespace", namespace, f"{TEST_LABEL}=true")
    local = kueue_object("LocalQueue", LOCAL_QUEUE, {"clusterQueue": CLUSTER_QUEUE}, namespace)
    apply_until_accepted(cluster, local, timeout=60)
    return namespace


def set_cpu_quota(cluster: Cluster, cpu: str) -> None:
    apply_until_accepted(cluster, cluster_queue(cpu), timeout=60)


def render(name: str, namespace: str, cpu: str = "1", **spec: Any) -> dict[str, Any]:
    """Two seconds of colour at 160x160 (no input to fetch); its pod asks for ``cpu``, what
    Kueue charges against the quota."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "timeline": {"tracks": [{"clips": [{"type": "color", "color": "#204080", "duration": 2}]}]},
            "output": {"width": 160, "height": 160, "fps": 10},
            "resources": {"cpu": cpu, "memory": "512Mi", "ephemeralStorage": "100Mi"},
            "timeoutSeconds": 300,
            "retries": 0,
            **spec,
        },
    }


def the_job(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    """The Job of the resource ``name``."""
    jobs = [
        j for j in managed_jobs(cluster, namespace) if j["metadata"]["labels"].get("reelkube.io/name") == name
    ]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    return jobs[0]


def waits_for_kueue(body: dict[str, Any]) -> bool:
    return (body.get("status") or {}).get("reason") == "WaitingForKueue"


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_suspend_contract_without_kueue(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """What Reelkube promises Kueue, with this test in Kueue's place (no Kueue build needed): the
    Job is created suspended with the queue label, the resource waits without holding or taking
    Reelkube's slot, and unsuspending the Job, as Kueue's admission does, runs it to the end."""
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)
    ns = namespace  # not labelled: a Kueue installed by this module never looks here
    with operator_process(
        cluster, (ns,), tmp_path / "operator.log", placement="kwok", REELKUBE_MAX_RUNNING_JOBS="1"
    ) as running:
        cluster.apply(render("hog", ns, cpu="100000"))  # no node fits it: it keeps the one slot
        wait_for_resource(
            cluster, "renderjobs", ns, "hog", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
        cluster.apply(render("queued", ns, queueName="no-kueue-here"))
        body = wait_for_resource(cluster, "renderjobs", ns, "queued", waits_for_kueue, timeout=60)
        assert body["status"]["phase"] == "Queued" and "queuePosition" not in body["status"], body["status"]
        job = the_job(cluster, ns, "queued")
        assert job["spec"]["suspend"] is True and job["metadata"]["labels"][QUEUE_LABEL] == "no-kueue-here"
        time.sleep(3)
        assert cluster.kubectl_json("-n", ns, "get", "pods", "-l", "reelkube.io/name=queued")["items"] == []
        # Kueue's admission: spec.suspend goes to false.
        cluster.kubectl(
            "-n",
            ns,
            "patch",
            "job",
            job["metadata"]["name"],
            "--type=merge",
            "-p",
            '{"spec":{"suspend":false}}',
        )
        seen: list[dict[str, Any]] = []
        done = wait_for_resource(
            cluster, "renderjobs", ns, "queued", phase_is("Succeeded", "Failed"), timeout=120, seen=seen
        )
        assert done["status"]["phase"] == "Succeeded", done["status"]
        hog = get_resource(cluster, "renderjobs", ns, "hog") or {}
        assert hog["status"]["phase"] == "Queued" and hog["status"].get("jobName"), hog["status"]
        assert running.process.poll() is None, running.tail()
    reasons = [status.get("reason") for status in seen]
    assert "ConcurrencyLimit" not in reasons, reasons


@REAL_KUEUE
def test_a_render_waits_for_kueue_admission_then_succeeds_past_reelkubes_own_limit(
    cluster: Cluster, queue_namespace: str, tmp_path: Path
) -> None:
    ns = queue_namespace
    set_cpu_quota(cluster, "0")
    # Reelkube's own limit is one running render, and a render no node can place takes it.
    with operator_process(
        cluster, (ns,), tmp_path / "operator.log", placement="kwok", REELKUBE_MAX_RUNNING_JOBS="1"
    ) as running:
        cluster.apply(render("hog", ns, cpu="100000"))
        wait_for_resource(
            cluster, "renderjobs", ns, "hog", lambda b: bool((b.get("status") or {}).get("jobName"))
        )
        cluster.apply(render("queued", ns, queueName=LOCAL_QUEUE))
        body = wait_for_resource(cluster, "renderjobs", ns, "queued", waits_for_kueue, timeout=60)
        status = body["status"]
        assert status["phase"] == "Queued" and "queuePosition" not in status, status
        assert status["message"].startswith(f"waiting for Kueue admission on queue {LOCAL_QUEUE}"), status
        job = the_job(cluster, ns, "queued")
        assert job["spec"]["suspend"] is True and job["metadata"]["labels"][QUEUE_LABEL] == LOCAL_QUEUE
        # Kueue holds it (no quota), whatever time passes: no pod, still waiting.
        time.sleep(5)
        assert waits_for_kueue(get_resource(cluster, "renderjobs", ns, "queued") or {})
        assert the_job(cluster, ns, "queued")["spec"]["suspend"] is True
        pods = cluster.kubectl_json("-n", ns, "get", "pods", "-l", "reelkube.io/name=queued")["items"]
        assert pods == []
        workloads = cluster.kubectl_json("-n", ns, "get", "workloads.kueue.x-k8s.io")["items"]
        assert [w["spec"]["queueName"] for w in workloads if w["spec"].get("queueName") == LOCAL_QUEUE]

        admitted_after = datetime.now().astimezone()
        set_cpu_quota(cluster, "1")
        done = wait_for_resource(
            cluster, "renderjobs", ns, "queued", phase_is("Succeeded", "Failed"), timeout=120
        )
        assert done["status"]["phase"] == "Succeeded", done["status"]
        job = the_job(cluster, ns, "queued")
        assert job["spec"]["suspend"] is False  # Kueue unsuspended it
        assert stamp(job["status"]["startTime"]) >= admitted_after.replace(microsecond=0)
        # Reelkube's slot was taken all along, and the Kueue render never waited for it.
        hog = get_resource(cluster, "renderjobs", ns, "hog") or {}
        assert hog["status"]["phase"] == "Queued" and hog["status"].get("jobName"), hog["status"]
        assert running.process.poll() is None, running.tail()


@REAL_KUEUE
@pytest.mark.usefixtures("project_images")
def test_a_cpu_quota_of_one_runs_two_renders_one_after_the_other(
    cluster: Cluster, queue_namespace: str, tmp_path: Path
) -> None:
    # Real renders on the real node (seconds each), so that the one Kueue holds back is seen
    # waiting while the other renders.
    ns = queue_namespace
    set_cpu_quota(cluster, "1")
    names = ("first", "second")
    samples: list[dict[str, tuple[str | None, str | None]]] = []
    # The pods upload their video: the cluster's S3 server, its key pair as the namespace's Secret.
    bucket = f"kueue-{ns}"
    host_s3_client(cluster).create_bucket(Bucket=bucket)
    create_storage_secret(cluster, ns)
    storage = {
        "REELKUBE_STORAGE_ENDPOINT": cluster.s3_endpoint,
        "REELKUBE_STORAGE_BUCKET": bucket,
        "REELKUBE_STORAGE_CREDENTIALS_SECRET": "reelkube-s3",
    }
    with operator_process(
        cluster, (ns,), tmp_path / "operator.log", placement="cluster", **storage
    ) as running:
        for name in names:
            cluster.apply(render(name, ns, cpu="1", queueName=LOCAL_QUEUE))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            statuses = {
                name: (get_resource(cluster, "renderjobs", ns, name) or {}).get("status") or {}
                for name in names
            }
            samples.append({name: (st.get("phase"), st.get("reason")) for name, st in statuses.items()})
            if all(st.get("phase") in ("Succeeded", "Failed", "Canceled") for st in statuses.values()):
                break
            time.sleep(0.3)
        assert running.process.poll() is None, running.tail()
    assert all(samples[-1][name][0] == "Succeeded" for name in names), (samples[-1], running.tail())
    # Never both rendering; and one seen rendering while Kueue held the other back.
    assert not [s for s in samples if all(phase == "Running" for phase, _ in s.values())], samples
    held = [s for s in samples if set(s.values()) == {("Queued", "WaitingForKueue"), ("Running", "Running")}]
    assert held, samples
    jobs = sorted((the_job(cluster, ns, name) for name in names), key=lambda j: j["status"]["startTime"])
    earlier, later = (j["status"] for j in jobs)
    # One CPU of quota, one CPU each: Kueue admitted the later only once the earlier had ended.
    assert stamp(later["startTime"]) >= stamp(earlier["completionTime"]), (earlier, later)
    workloads = cluster.kubectl_json("-n", ns, "get", "workloads.kueue.x-k8s.io")["items"]
    assert len(workloads) == 2 and all(
        any(c["type"] == "Finished" and c["status"] == "True" for c in w["status"]["conditions"])
        for w in workloads
    ), [w.get("status") for w in workloads]


@REAL_KUEUE
def test_canceling_a_render_that_waits_for_kueue_deletes_its_job(
    cluster: Cluster, queue_namespace: str, tmp_path: Path
) -> None:
    ns = queue_namespace
    set_cpu_quota(cluster, "0")
    with operator_process(cluster, (ns,), tmp_path / "operator.log", placement="kwok"):
        cluster.apply(render("unwanted", ns, queueName=LOCAL_QUEUE))
        wait_for_resource(cluster, "renderjobs", ns, "unwanted", waits_for_kueue, timeout=60)
        cluster.kubectl(
            "-n",
            ns,
            "patch",
            "renderjobs.reelkube.io",
            "unwanted",
            "--type=merge",
            "-p",
            '{"spec":{"cancel":true}}',
        )
        body = wait_for_resource(cluster, "renderjobs", ns, "unwanted", phase_is("Canceled"), timeout=60)
    assert body["status"]["reason"] == "CanceledByUser", body["status"]
    deadline = time.monotonic() + 30
    while managed_jobs(cluster, ns) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert managed_jobs(cluster, ns) == []
