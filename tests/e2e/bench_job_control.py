"""Job-control benchmark on the test cluster (not a test; run it by hand, under the lock):

    flock /tmp/reelkube-cluster.lock python tests/e2e/bench_job_control.py [--runs 5] [--json out.json]

The operator runs as a process on this machine (``support.operator_process``, the handlers the
chart's pod runs); every clock below is this machine's ``time.monotonic``, and every "seen" is
the arrival of an object on a watch stream here (or a request at the receiver here).

1. Cancel latency, for a render that is running: its pod runs on the real node and hangs
   downloading its background from a server that never answers. From the ``spec.cancel``
   patch to (a) the resource seen ``Canceled`` and (b) its pod gone from the API.
2. Queue handoff: six RenderJobs under ``jobs.maxRunning`` = 1, their pods on the fake kwok
   node (which completes them at once): from a Job seen finished to the next one's Job seen
   created.
3. Webhook latency: RenderJobs on the kwok node subscribed to queued, started and succeeded,
   delivered to a receiver here: from the status transition seen on the watch to the
   request's arrival (started, when no watch saw Running, is timed from the Succeeded status
   that announces it).

Prints a table of medians (and p95, max) and writes the raw figures with ``--json``.
"""

from __future__ import annotations

import argparse
import http.server
import json
import math
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

from kubernetes import client, config, watch  # noqa: E402
from urllib3.exceptions import ProtocolError  # noqa: E402

from support.network import StallingServer  # noqa: E402
from support.operator_process import operator_process  # noqa: E402
from support.reelkube_cluster import (  # noqa: E402
    Cluster,
    connect_cluster,
    ensure_kwok_ephemeral_storage,
    install_crds,
)

GROUP, VERSION, PLURAL = "reelkube.io", "v1alpha1", "renderjobs"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
    }


class Timeline:
    """Watches RenderJobs, Jobs and pods of one namespace; records when each change arrived."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.phases: dict[str, list[tuple[str, float]]] = {}
        self.jobs_added: dict[str, float] = {}
        self.jobs_finished: dict[str, float] = {}
        self.pods_deleted: dict[str, float] = {}
        self.lock = threading.Condition()
        self._custom = client.CustomObjectsApi(api)
        self._batch = client.BatchV1Api(api)
        self._core = client.CoreV1Api(api)
        self._streams: list[watch.Watch] = []
        for target in (self._resources, self._jobs, self._pods):
            threading.Thread(target=self._quietly, args=(target,), daemon=True).start()
        time.sleep(1.0)  # the watches are established

    def _quietly(self, target: Callable[[], None]) -> None:
        # stop() ends a stream mid-read; the connection's abrupt end is expected then.
        with suppress(ProtocolError):
            target()

    def _stream(self, function: Callable[..., Any], *args: Any) -> Any:
        stream = watch.Watch()
        self._streams.append(stream)
        return stream.stream(function, *args, timeout_seconds=3600)

    def _resources(self) -> None:
        for event in self._stream(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL
        ):
            now = time.monotonic()
            body = event["object"]
            phase = (body.get("status") or {}).get("phase")
            name = body["metadata"]["name"]
            with self.lock:
                seen = self.phases.setdefault(name, [])
                if phase and (not seen or seen[-1][0] != phase):
                    seen.append((phase, now))
                    self.lock.notify_all()

    def _jobs(self) -> None:
        for event in self._stream(self._batch.list_namespaced_job, self.namespace):
            now = time.monotonic()
            job = event["object"]
            owner = (job.metadata.labels or {}).get("reelkube.io/name") or job.metadata.name
            conditions = job.status.conditions or []
            with self.lock:
                if event["type"] == "ADDED":
                    self.jobs_added.setdefault(owner, now)
                if any(c.type in ("Complete", "Failed") and c.status == "True" for c in conditions):
                    self.jobs_finished.setdefault(owner, now)
                self.lock.notify_all()

    def _pods(self) -> None:
        for event in self._stream(self._core.list_namespaced_pod, self.namespace):
            now = time.monotonic()
            pod = event["object"]
            owner = (pod.metadata.annotations or {}).get("reelkube.io/resource") or pod.metadata.name
            if event["type"] == "DELETED":
                with self.lock:
                    self.pods_deleted.setdefault(owner, now)
                    self.lock.notify_all()

    def wait(self, what: Callable[[], Any], timeout: float, label: str) -> Any:
        with self.lock:
            if not self.lock.wait_for(what, timeout=timeout):
                raise TimeoutError(f"{label}: not within {timeout:g} s")
            return what()

    def first(self, name: str, phase: str) -> float | None:
        return next((t for p, t in self.phases.get(name, []) if p == phase), None)

    def stop(self) -> None:
        for stream in self._streams:
            stream.stop()


class Receiver:
    """A webhook receiver here: records (event, resource name, arrival) of each request, 200s."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, float]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                now = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                receiver.received.append((body["event"], body["metadata"]["name"], now))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def render_job(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": {
            "template": "static-ad",
            "props": {"headline": name},
            "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
            **spec,
        },
    }


def other_operators(cluster: Cluster) -> dict[str, int]:
    """Chart-installed operators in the cluster (``namespace/name`` -> replicas): each watches
    every namespace, so it would create these resources' Jobs too, under its own limits."""
    deployments = cluster.kubectl_json("get", "deployments", "-A")["items"]
    return {
        f"{d['metadata']['namespace']}/{d['metadata']['name']}": int(d["spec"].get("replicas") or 0)
        for d in deployments
        if "reelkube" in d["metadata"]["name"]
    }


@contextmanager
def others_paused(cluster: Cluster, pause: bool) -> Iterator[None]:
    """With ``pause``, scale other operators to 0 for the block (their replicas restored after);
    without, refuse to measure while one runs."""
    found = {name: replicas for name, replicas in other_operators(cluster).items() if replicas}
    if found and not pause:
        raise SystemExit(f"another operator runs ({', '.join(found)}): uninstall it or pass --pause-others")
    for name in found:
        namespace, deployment = name.split("/")
        cluster.kubectl("-n", namespace, "scale", "deployment", deployment, "--replicas=0")
        selector = "app.kubernetes.io/name=reelkube"
        cluster.kubectl(
            "-n", namespace, "wait", "--for=delete", "pod", "-l", selector, "--timeout=120s", check=False
        )
    try:
        yield
    finally:
        for name, replicas in found.items():
            namespace, deployment = name.split("/")
            cluster.kubectl("-n", namespace, "scale", "deployment", deployment, f"--replicas={replicas}")


def fresh_namespace(cluster: Cluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    return name


def bench_cancel(cluster: Cluster, api: client.ApiClient, runs: int, logs: Path) -> dict[str, list[float]]:
    namespace = fresh_namespace(cluster, "bench-cancel")
    host = urlparse(cluster.s3_endpoint).hostname or ""
    server = StallingServer(host)
    custom = client.CustomObjectsApi(api)
    timeline = Timeline(api, namespace)
    canceled: list[float] = []
    pod_gone: list[float] = []
    try:
        with operator_process(
            cluster,
            (namespace,),
            logs / "operator-cancel.log",
            placement="cluster",
            REELKUBE_INPUTS_ALLOWED_CIDRS=f"{host}/32",
        ):
            for run in range(runs):
                name = f"cancel-{run}"
                spec = {
                    "template": "captioned-reel",
                    "props": {"title": "Stop", "backgroundUrl": f"http://{host}:{server.port}/bg.jpg"},
                    "resources": {"cpu": "250m", "memory": "512Mi", "ephemeralStorage": "200Mi"},
                    "retries": 0,
                }
                body = render_job(name, **spec)
                custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
                timeline.wait(lambda n=name: timeline.first(n, "Running"), 180, f"{name} running")
                time.sleep(1.0)  # rendering (downloading) for a moment
                start = time.monotonic()
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, {"spec": {"cancel": True}}
                )
                done = timeline.wait(lambda n=name: timeline.first(n, "Canceled"), 60, f"{name} canceled")
                gone = timeline.wait(lambda n=name: timeline.pods_deleted.get(n), 90, f"{name} pod gone")
                canceled.append(done - start)
                pod_gone.append(gone - start)
                print(
                    f"cancel run {run}: Canceled {done - start:.3f} s, pod gone {gone - start:.3f} s",
                    flush=True,
                )
    finally:
        timeline.stop()
        server.close()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    return {"cancel_to_canceled_s": canceled, "cancel_to_pod_gone_s": pod_gone}


def bench_queue_handoff(
    cluster: Cluster, api: client.ApiClient, runs: int, logs: Path
) -> dict[str, list[float]]:
    namespace = fresh_namespace(cluster, "bench-queue")
    custom = client.CustomObjectsApi(api)
    timeline = Timeline(api, namespace)
    handoffs: list[float] = []
    try:
        with operator_process(
            cluster, (namespace,), logs / "operator-queue.log", REELKUBE_MAX_RUNNING_JOBS="1"
        ):
            for run in range(runs):
                names = [f"q{run}-{i}" for i in range(6)]
                for name in names:
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, render_job(name)
                    )
                for name in names:
                    timeline.wait(lambda n=name: timeline.first(n, "Succeeded"), 180, f"{name} succeeded")
                # The one admitted first is not always the first created: order by Job creation.
                order = sorted(names, key=lambda n: timeline.jobs_added[n])
                for previous, following in zip(order, order[1:], strict=False):
                    handoffs.append(timeline.jobs_added[following] - timeline.jobs_finished[previous])
                print(f"queue run {run}: " + ", ".join(f"{h:.3f}" for h in handoffs[-5:]), flush=True)
    finally:
        timeline.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    return {"job_finished_to_next_job_s": handoffs}


def bench_webhooks(cluster: Cluster, api: client.ApiClient, runs: int, logs: Path) -> dict[str, list[float]]:
    namespace = fresh_namespace(cluster, "bench-hooks")
    custom = client.CustomObjectsApi(api)
    timeline = Timeline(api, namespace)
    receiver = Receiver()
    latency: dict[str, list[float]] = {"queued": [], "started": [], "succeeded": []}
    try:
        with operator_process(
            cluster, (namespace,), logs / "operator-hooks.log", REELKUBE_INPUTS_ALLOWED_CIDRS="127.0.0.0/8"
        ):
            hook = {"url": receiver.url, "events": ["queued", "started", "succeeded"]}
            for run in range(runs):
                name = f"hook-{run}"
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, render_job(name, webhook=hook)
                )
                timeline.wait(lambda n=name: timeline.first(n, "Succeeded"), 120, f"{name} succeeded")
                deadline = time.monotonic() + 30
                while len([r for r in receiver.received if r[1] == name]) < 3 and time.monotonic() < deadline:
                    time.sleep(0.05)
                arrivals = {event: t for event, who, t in receiver.received if who == name}
                transitions = {
                    "queued": timeline.first(name, "Queued"),
                    "started": timeline.first(name, "Running") or timeline.first(name, "Succeeded"),
                    "succeeded": timeline.first(name, "Succeeded"),
                }
                for event, at in transitions.items():
                    if at is not None and event in arrivals:
                        latency[event].append(arrivals[event] - at)
                print(
                    f"webhook run {run}: "
                    + ", ".join(
                        f"{e} {arrivals.get(e, math.nan) - (transitions[e] or math.nan):.3f}" for e in latency
                    ),
                    flush=True,
                )
                time.sleep(0.5)
    finally:
        timeline.stop()
        receiver.close()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    return {f"webhook_{event}_s": values for event, values in latency.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/reelkube-bench-job-control"))
    parser.add_argument("--only", choices=["cancel", "queue", "webhooks"], action="append")
    parser.add_argument(
        "--pause-others", action="store_true", help="scale other reelkube operators to 0 while measuring"
    )
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    cluster = connect_cluster()
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)
    api = config.new_client_from_config(str(cluster.kubeconfig))
    results: dict[str, list[float]] = {}
    only = set(args.only or ["cancel", "queue", "webhooks"])
    with others_paused(cluster, args.pause_others):
        if "cancel" in only:
            results.update(bench_cancel(cluster, api, args.runs, args.logs))
        if "queue" in only:
            results.update(bench_queue_handoff(cluster, api, max(1, args.runs // 2), args.logs))
        if "webhooks" in only:
            results.update(bench_webhooks(cluster, api, args.runs * 2, args.logs))
    print(f"\n{'measure':36} {'n':>3} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for measure, values in results.items():
        s = summary(values)
        p50, p95, top = (s.get(key, math.nan) for key in ("p50", "p95", "max"))
        print(f"{measure:36} {s['n']:>3} {p50:>8.3f} {p95:>8.3f} {top:>8.3f}")
    if args.json:
        args.json.write_text(
            json.dumps({"raw": results, "summary": {k: summary(v) for k, v in results.items()}}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
