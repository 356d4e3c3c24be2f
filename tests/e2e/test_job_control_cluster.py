"""Job control on the real cluster, with the operator as a process of its own on this machine
(``support.operator_process``): retries that know transient from permanent, for real renders
on the real node, and webhook deliveries that survive the operator being killed while their
receiver is down, redelivery by annotation, and the Events ``kubectl describe`` shows; and a
full render's status as a watch sees it through kstatus (tests/kstatus), moving forward only.

Run under the cluster lock, one module at a time::

    flock /tmp/reelkube-cluster.lock python -m pytest -q -p no:cacheprovider -m cluster \
        tests/e2e/test_job_control_cluster.py
"""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from standardwebhooks import Webhook

from reelkube.api.kinds import RENDER_JOB
from reelkube.api.status import Step
from support.cluster import Cluster, run_script
from support.network import free_port
from support.operator_process import operator_process
from support.reelkube_cluster import (
    ROOT,
    create_storage_secret,
    delete_pod_and_read_exit_code,
    ensure_kwok_ephemeral_storage,
    install_crds,
    new_bucket,
    phase_is,
    wait_for_resource,
)
from support.webhooks import WebhookReceiver

pytestmark = pytest.mark.cluster

BACKGROUND = ROOT / "examples" / "assets" / "reel-background.jpg"
SECRET = "whsec_" + "am9iLWNvbnRyb2wtdGVzdHM="
PHASE_RANK = {"Pending": 0, "Queued": 1, "Running": 2, "Succeeded": 3, "Failed": 3, "Canceled": 3}


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)


class ScriptedInput:
    """An HTTP server where render pods reach this machine: answers the scripted codes in order,
    then serves ``payload`` with 200; counts the requests."""

    def __init__(self, host: str, script: list[int], payload: bytes, content_type: str) -> None:
        self.script = list(script)
        self.answers: list[int] = []
        lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with lock:
                    code = server.script.pop(0) if server.script else 200
                    server.answers.append(code)
                body = payload if code == 200 else b"try again later"
                self.send_response(code)
                self.send_header("Content-Type", content_type if code == 200 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
                pass

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/background.jpg"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def pods_reach_host(cluster: Cluster) -> str:
    host = urlparse(cluster.s3_endpoint).hostname
    assert host, cluster.s3_endpoint
    return host


@pytest.fixture
def scripted_input(pods_reach_host: str) -> Iterator[Any]:
    servers: list[ScriptedInput] = []

    def start(script: list[int]) -> ScriptedInput:
        server = ScriptedInput(pods_reach_host, script, BACKGROUND.read_bytes(), "image/jpeg")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def reel(name: str, namespace: str, background: str, *, retries: int, **spec: Any) -> dict[str, Any]:
    """A small captioned reel (2 s at 180x320) whose background comes from ``background``."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": "captioned-reel",
            "props": {"title": "Again", "backgroundUrl": background, "durationSeconds": 2},
            "output": {"width": 180, "height": 320, "fps": 12},
            "resources": {"cpu": "500m", "memory": "512Mi", "ephemeralStorage": "200Mi"},
            "timeoutSeconds": 300,
            "retries": retries,
            **spec,
        },
    }


def our_events(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    """The operator's Events on the resource ``name``, oldest first."""
    items = cluster.kubectl_json(
        "-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={name}"
    )["items"]
    ours = [e for e in items if e.get("source", {}).get("component") == "reelkube-operator"]
    return sorted(ours, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))


def wait_for_events(
    cluster: Cluster, namespace: str, name: str, reason: str, timeout: float = 30
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = our_events(cluster, namespace, name)
        if any(e["reason"] == reason for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def assert_never_backwards(seen: list[dict[str, Any]]) -> None:
    """Within an attempt, the phases a watcher saw never go back."""
    last: tuple[int, int] = (0, -1)
    for status in seen:
        phase = status.get("phase")
        if phase is None:
            continue
        now = (status.get("attempts") or 0, PHASE_RANK[phase])
        if now[0] == last[0]:
            assert now[1] >= last[1], f"phase went back within attempt {now[0]}: {seen}"
        last = now


@pytest.mark.slow
def test_a_transient_input_failure_is_retried_until_the_render_succeeds(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    scripted_input: Any,
    pods_reach_host: str,
    tmp_path: Path,
) -> None:
    # The input server answers 503 twice: each pod fails with a retryable cause (exit 1), the
    # Job starts another, and the third renders.
    server = scripted_input([503, 503])
    with operator_process(
        cluster,
        (namespace,),
        tmp_path / "operator.log",
        placement="cluster",
        REELKUBE_INPUTS_ALLOWED_CIDRS=f"{pods_reach_host}/32",
    ) as running:
        cluster.apply(reel("flaky", namespace, server.url, retries=2))
        seen: list[dict[str, Any]] = []
        body = wait_for_resource(
            cluster, "renderjobs", namespace, "flaky", phase_is("Succeeded", "Failed"), timeout=400, seen=seen
        )
        events = wait_for_events(cluster, namespace, "flaky", "Succeeded")
        assert running.process.poll() is None, running.tail()
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    assert status["attempts"] == 3 and server.answers == [503, 503, 200]
    retries = [e for e in events if e["reason"] == "Retry"]
    assert [e["message"].split(";")[0] for e in retries] == ["attempt 2 starting", "attempt 3 starting"]
    assert all("InputUnavailable" in e["message"] and "503" in e["message"] for e in retries), retries
    assert_never_backwards(seen)
    described = cluster.kubectl("-n", namespace, "describe", "renderjob", "flaky").stdout
    assert "Retry" in described and "attempt 2 starting" in described


@pytest.mark.slow
def test_a_permanent_input_failure_fails_after_one_attempt(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    scripted_input: Any,
    pods_reach_host: str,
    tmp_path: Path,
) -> None:
    server = scripted_input([404, 404, 404])
    with operator_process(
        cluster,
        (namespace,),
        tmp_path / "operator.log",
        placement="cluster",
        REELKUBE_INPUTS_ALLOWED_CIDRS=f"{pods_reach_host}/32",
    ):
        cluster.apply(reel("missing", namespace, server.url, retries=3))
        body = wait_for_resource(
            cluster, "renderjobs", namespace, "missing", phase_is("Succeeded", "Failed"), timeout=300
        )
        time.sleep(12)  # past the Job's first backoff: a retry would have started a second pod
        events = wait_for_events(cluster, namespace, "missing", "Failed")
    status = body["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "InputNotFound"), status
    assert status["attempts"] == 1 and server.answers == [404]
    assert "404" in status["message"]
    assert not [e for e in events if e["reason"] == "Retry"]
    pods = cluster.kubectl_json("-n", namespace, "get", "pods")["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]


GRACE = "10"
"""The render pods' grace period the tests' chart sets (jobs.terminationGracePeriodSeconds)."""


def throttled_render(name: str, namespace: str, *, seconds: int, retries: int) -> dict[str, Any]:
    """A timeline render (no inputs, no storage: outputs stay in the pod) at a quarter of a core,
    as the fault-injection run's renders are."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "timeline": {
                "width": 320,
                "height": 180,
                "fps": 25,
                "duration": seconds,
                "tracks": [
                    {"clips": [{"type": "color", "color": "#204060", "start": 0, "duration": seconds}]},
                    {"clips": [{"type": "text", "text": name, "start": 0, "duration": seconds}]},
                ],
            },
            "output": {"preset": "ultrafast", "thumbnail": False},
            "resources": {"cpu": "250m", "memory": "512Mi", "ephemeralStorage": "200Mi"},
            "timeoutSeconds": 300,
            "retries": retries,
        },
    }


def job_pods(cluster: Cluster, namespace: str, job: str) -> list[dict[str, Any]]:
    return list(cluster.kubectl_json("-n", namespace, "get", "pods", "-l", f"job-name={job}")["items"])


def first_pod_running(cluster: Cluster, namespace: str, name: str, timeout: float = 120) -> str:
    """The name of the render pod of resource ``name``, polled until its container runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = cluster.kubectl_json("-n", namespace, "get", "pods", "-l", f"reelkube.io/name={name}")["items"]
        for pod in pods:
            if pod["status"].get("phase") == "Running":
                return str(pod["metadata"]["name"])
        time.sleep(0.1)
    pytest.fail(f"no render pod of {name} ran within {timeout}s", pytrace=False)


@pytest.mark.slow
@pytest.mark.faults
def test_a_render_pod_deleted_with_no_retries_left_fails_as_stopped_not_canceled(
    cluster: Cluster, crds: None, project_images: dict[str, str], namespace: str, tmp_path: Path
) -> None:
    # A 10-minute timeline: far from done when its pod is deleted, seconds into its encode.
    with operator_process(
        cluster,
        (namespace,),
        tmp_path / "operator.log",
        placement="cluster",
        REELKUBE_TERMINATION_GRACE_SECONDS=GRACE,
    ) as running:
        cluster.apply(throttled_render("unretried", namespace, seconds=600, retries=0))
        wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "unretried",
            lambda b: (b.get("status") or {}).get("step") == "rendering",
            timeout=180,
            interval=0.3,
        )
        victim = first_pod_running(cluster, namespace, "unretried")
        deleted = time.monotonic()
        exit_code = delete_pod_and_read_exit_code(cluster, namespace, victim)
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "unretried",
            phase_is("Succeeded", "Failed", "Canceled"),
            timeout=120,
        )
        ended = time.monotonic() - deleted
        events = wait_for_events(cluster, namespace, "unretried", "Failed")
        assert running.process.poll() is None, running.tail()
    print(f"pod {victim} exited {exit_code}; resource Failed {ended:.1f} s after the delete")
    # 143: the runner took the SIGTERM and stopped within the grace period (137 would be the
    # kubelet's SIGKILL after it, which the Job fails as out of memory).
    assert exit_code == "143", exit_code
    status = body["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "PodStopped"), status
    assert status["attempts"] == 1, status
    # "deleted" when the operator still saw the pod, "stopped" when only the Job's condition
    # (the podFailurePolicy's rule for 143 without retries) was left to name it.
    assert f"render pod {victim} was " in status["message"], status["message"]
    assert "(SIGTERM, exit 143) before it finished" in status["message"], status["message"]
    assert "spec.retries is 0, so it was not retried" in status["message"], status["message"]
    assert not [e for e in events if e["reason"] in ("Retry", "Canceled")], events
    failed = [e for e in events if e["reason"] == "Failed"]
    assert failed and "PodStopped" in failed[-1]["message"], events


@pytest.mark.slow
@pytest.mark.faults
def test_a_throttled_render_pod_deleted_as_it_starts_is_retried_and_succeeds(
    cluster: Cluster, crds: None, project_images: dict[str, str], namespace: str, tmp_path: Path
) -> None:
    # Deleted the moment its container runs, at a quarter of a core: the runner is still in
    # Python's imports, before its SIGTERM handler. As the pod's PID 1 it dropped that SIGTERM,
    # rendered on until the kubelet's SIGKILL after the grace period, and the Job failed on
    # 137 as out of memory (`Killed`); the fault-injection run lost two renders so.
    with operator_process(
        cluster,
        (namespace,),
        tmp_path / "operator.log",
        placement="cluster",
        REELKUBE_TERMINATION_GRACE_SECONDS=GRACE,
    ) as running:
        cluster.apply(throttled_render("retried", namespace, seconds=2, retries=1))
        victim = first_pod_running(cluster, namespace, "retried")
        deleted = time.monotonic()
        exit_code = delete_pod_and_read_exit_code(cluster, namespace, victim)
        stopped = time.monotonic() - deleted
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "retried",
            phase_is("Succeeded", "Failed", "Canceled"),
            timeout=240,
        )
        events = wait_for_events(cluster, namespace, "retried", "Succeeded")
        assert running.process.poll() is None, running.tail()
    print(f"pod {victim} deleted as it started: exited {exit_code} {stopped:.1f} s after the delete")
    assert exit_code == "143", exit_code
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    assert status["attempts"] == 2, status
    # The deleted pod may be gone before the operator tells the retry; if its cause was read,
    # it is the stop, never the memory limit.
    retries = [e for e in events if e["reason"] == "Retry"]
    assert len(retries) == 1, events
    assert "OutOfMemory" not in retries[0]["message"] and "Killed" not in retries[0]["message"], retries


def expected_id(uid: str, event: str) -> str:
    return "evt_" + hashlib.sha256(f"{uid}/{event}".encode()).hexdigest()[:24]


def records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((body.get("status") or {}).get("webhook") or {}).get("deliveries") or [])


@pytest.mark.faults
def test_deliveries_pending_when_the_operator_is_killed_arrive_once_after_restart(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    receiver = WebhookReceiver(port=port)  # not started: nothing listens on its port yet
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "hook", f"--from-literal=secret={SECRET}")
    webhook = {
        "url": f"http://127.0.0.1:{port}/hooks",
        "events": ["queued", "started", "succeeded"],
        "secretRef": "hook",
        "maxAttempts": 20,
    }
    env = {"REELKUBE_INPUTS_ALLOWED_CIDRS": "127.0.0.0/8"}
    log = tmp_path / "operator.log"
    first = None
    try:
        with operator_process(cluster, (namespace,), log, **env) as first:
            cluster.apply(
                {
                    "apiVersion": "reelkube.io/v1alpha1",
                    "kind": "RenderJob",
                    "metadata": {"name": "told", "namespace": namespace},
                    "spec": {
                        "template": "static-ad",
                        "props": {"headline": "Hi"},
                        "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
                        "webhook": webhook,
                    },
                }
            )
            # Succeeded, every event Pending, the first one tried against the closed port.
            body = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                "told",
                lambda b: (
                    phase_is("Succeeded")(b)
                    and [r["event"] for r in records(b)] == ["queued", "started", "succeeded"]
                    and records(b)[0].get("attempts", 0) >= 2
                ),
                timeout=90,
            )
            assert {r["state"] for r in records(body)} == {"Pending"}
            first.kill()
        receiver.start()
        time.sleep(3)
        assert receiver.requests == [], "a killed operator sends nothing"
        with operator_process(cluster, (namespace,), log, **env) as second:
            delivered = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                "told",
                lambda b: [r["state"] for r in records(b)] == ["Delivered"] * 3,
                timeout=60,
            )
            time.sleep(3)  # anything sent twice would arrive by now
            uid = delivered["metadata"]["uid"]
            ids = [expected_id(uid, e) for e in ("queued", "started", "succeeded")]
            assert [r.header("webhook-id") for r in receiver.requests] == ids
            for request in receiver.requests:
                assert Webhook(SECRET).verify(request.body, request.headers)["id"] == request.header(
                    "webhook-id"
                )
            assert [r.json()["event"] for r in receiver.requests] == ["queued", "started", "succeeded"]

            # Redelivery on demand: the succeeded event again, with its id; the annotation goes.
            cluster.kubectl(
                "-n", namespace, "annotate", "renderjob", "told", "reelkube.io/redeliver=succeeded"
            )
            receiver.wait_for(4, timeout=30)
            again = receiver.requests[3]
            assert again.header("webhook-id") == ids[2]
            assert Webhook(SECRET).verify(again.body, again.headers)["event"] == "succeeded"
            settled = wait_for_resource(
                cluster,
                "renderjobs",
                namespace,
                "told",
                lambda b: (
                    "reelkube.io/redeliver" not in (b["metadata"].get("annotations") or {})
                    and records(b)[-1]["state"] == "Delivered"
                    and records(b)[-1]["attempts"] > 1
                ),
                timeout=30,
            )
            events = wait_for_events(cluster, namespace, "told", "WebhookRedelivery")
            assert second.process.poll() is None, second.tail()
    finally:
        receiver.stop()
    succeeded = next(r for r in records(settled) if r["event"] == "succeeded")
    assert succeeded["id"] == ids[2]
    reasons = [e["reason"] for e in events]
    assert "WebhookRetrying" in reasons and "WebhookRedelivery" in reasons, reasons
    assert reasons.index("Queued") < reasons.index("Succeeded"), reasons
    described = cluster.kubectl("-n", namespace, "describe", "renderjob", "told").stdout
    assert "WebhookRetrying" in described and "WebhookRedelivery" in described


STEP_ORDER = [step.value for step, _share in RENDER_JOB.steps] + [Step.DONE.value]
"""A RenderJob's steps in the order its pipeline goes through them (the kind's own list)."""
WAITING_FOR_POD = "waiting for its pod to run"
RENDERING = "is rendering"


@pytest.fixture(scope="module")
def kstatus_judge() -> Path:
    """reelkube-kstatus (tests/kstatus), built by tests/cluster/build.sh when missing or stale
    (not in build.sh's default set: a cold build takes minutes)."""
    run_script("build.sh", "kstatus", timeout=1800)
    return Path(run_script("build.sh", "--print-bin-dir", timeout=60).strip()) / "reelkube-kstatus"


class KstatusWatch:
    """``kubectl get renderjobs -w -o json --output-watch-events`` for one name, piped through
    reelkube-kstatus: ``lines`` holds its verdict on each watch event, in order, as they come.
    A watch, not polling: the API server sends every write, so no state in between is missed."""

    def __init__(self, cluster: Cluster, judge: Path, namespace: str, name: str) -> None:
        self.lines: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        # A field selector rather than the name: a watch on a name that does not exist yet fails.
        self._watch = subprocess.Popen(
            [str(cluster.kubectl_path), "-n", namespace, "get", "renderjobs.reelkube.io",
             "--field-selector", f"metadata.name={name}", "-w", "-o", "json", "--output-watch-events"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cluster.env,
        )  # fmt: skip
        assert self._watch.stdout is not None
        self._judge = subprocess.Popen(
            [str(judge)], stdin=self._watch.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._watch.stdout.close()  # the judge holds the pipe: it reads EOF when kubectl ends
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._judge.stdout is not None
        for raw in self._judge.stdout:
            with self._arrived:
                self.lines.append(json.loads(raw))
                self._arrived.notify_all()

    def wait_for(self, until: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first line for which ``until(line)`` holds, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                match = next((line for line in self.lines if until(line)), None)
                if match is not None:
                    return match
                left = deadline - time.monotonic()
                ended = self._watch.poll() is not None
                if left <= 0 or ended:
                    said = self._watch.stderr.read().decode() if ended and self._watch.stderr else ""
                    pytest.fail(f"no such line in the watch ({said}): {self.lines[-5:]}", pytrace=False)
                self._arrived.wait(min(left, 1.0))

    def stop(self) -> None:
        """End the watch; the judge then reads EOF and must exit 0 (it fails on any input that
        is not a JSON object)."""
        self._watch.terminate()
        self._watch.wait(timeout=10)
        code = self._judge.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self._judge.stderr is not None
        assert code == 0, f"reelkube-kstatus exited {code}: {self._judge.stderr.read()}"


def story(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The distinct consecutive (kstatus, message) pairs of a watch: what its reader was told."""
    pairs: list[tuple[str, str]] = []
    for line in lines:
        pair = (line["kstatus"], line["kstatusMessage"])
        if not pairs or pairs[-1] != pair:
            pairs.append(pair)
    return pairs


def assert_only_forward(lines: list[dict[str, Any]]) -> None:
    """One attempt's status as a watch saw it through kstatus: InProgress until Current and never
    back; phase, step (in the pipeline's order) and progress never back; no "Job ... created,
    waiting for its pod to run" once a pod was said to be rendering."""
    # From the very first event: before the operator's first write the API server shows the
    # CRD's default status (observedGeneration 0), which kstatus reads as InProgress; without it
    # a resource just applied read Current ("ready") to Flux and kpt.
    written = lines
    assert written, lines
    assert written[0]["kstatus"] == "InProgress", written[0]
    assert not written[0]["phase"] or written[0]["phase"] == "Queued", written[0]
    current = [i for i, line in enumerate(written) if line["kstatus"] == "Current"]
    assert current, f"never Current: {story(lines)}"
    after = [line["kstatus"] for line in written[current[0] :]]
    assert set(after) == {"Current"}, f"Current, then {after}: {story(lines)}"
    assert all(line["kstatus"] == "InProgress" for line in written[: current[0]]), story(lines)
    # The story first: "is rendering", then "waiting for its pod to run" before Ready.
    rendering = [i for i, line in enumerate(written) if RENDERING in line["message"]]
    waiting = [i for i, line in enumerate(written) if WAITING_FOR_POD in line["message"]]
    assert not rendering or not waiting or max(waiting) < min(rendering), [
        (line["phase"], line["message"]) for line in written
    ]
    ranks = [PHASE_RANK[line["phase"]] if line["phase"] else -1 for line in written]
    assert ranks == sorted(ranks), [line["phase"] for line in written]
    steps = [STEP_ORDER.index(line["step"]) for line in written if line["step"]]
    assert steps == sorted(steps), [line["step"] for line in written if line["step"]]
    progress = [line["progress"] for line in written if line["progress"] is not None]
    assert progress == sorted(progress), progress
    assert {line.get("attempts") for line in written} <= {None, 0, 1}, "more than one attempt"


@pytest.mark.slow
def test_a_watch_through_kstatus_sees_a_full_render_only_move_forward(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    scripted_input: Any,
    pods_reach_host: str,
    kstatus_judge: Path,
    tmp_path: Path,
) -> None:
    # A captioned reel whose background is downloaded and whose outputs are uploaded: every
    # step of the pipeline, long enough for progress writes while it renders.
    server = scripted_input([])
    bucket = new_bucket(cluster, "kstatus")
    create_storage_secret(cluster, namespace)
    body = reel("watched", namespace, server.url, retries=0)
    body["spec"]["props"]["durationSeconds"] = 10
    body["spec"]["output"] = {"width": 360, "height": 640, "fps": 24}
    watch = KstatusWatch(cluster, kstatus_judge, namespace, "watched")
    try:
        with operator_process(
            cluster,
            (namespace,),
            tmp_path / "operator.log",
            placement="cluster",
            REELKUBE_INPUTS_ALLOWED_CIDRS=f"{pods_reach_host}/32",
            REELKUBE_STORAGE_ENDPOINT=cluster.s3_endpoint,
            REELKUBE_STORAGE_BUCKET=bucket,
            REELKUBE_STORAGE_CREDENTIALS_SECRET="reelkube-s3",
        ) as running:
            time.sleep(1)  # kubectl's watch is open before the resource exists
            cluster.apply(body)
            watch.wait_for(lambda line: bool(line["phase"]) and line["kstatus"] != "InProgress", timeout=180)
            time.sleep(3)  # any late write (the operator's or the pod's) arrives by now
            assert running.process.poll() is None, running.tail()
    finally:
        watch.stop()
    lines = watch.lines
    print("(kstatus, message) as the watch saw them:")
    for kstatus, message in story(lines):
        print(f"  {kstatus:<10} {message}")
    print("phase/step/progress:", " ".join(f"{e['phase']}/{e['step']}/{e['progress']}" for e in lines))
    last = lines[-1]
    assert (last["kstatus"], last["phase"], last["step"], last["progress"]) == (
        "Current", "Succeeded", "done", 100
    ), last  # fmt: skip
    assert_only_forward(lines)
    phases = [line["phase"] for line in lines if line["phase"]]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p][-3:] == [
        "Queued", "Running", "Succeeded"
    ], phases  # fmt: skip
    steps = {line["step"] for line in lines}
    assert {"downloading", "rendering", "done"} <= steps, steps
    assert any(WAITING_FOR_POD in line["message"] for line in lines), story(lines)
    assert any(0 < (line["progress"] or 0) < 100 for line in lines if line["step"] == "rendering"), lines
