"""Scale benchmark of the operator on the test cluster (a script, not a CI test).

    python3 tests/e2e/bench_scale.py [--count 200] [--writers 100] [--write-seconds 30] [--json out.json]

With the operator running as its own process (``kopf run`` of ``reelkube.controller.handlers``
from this checkout, watching one fresh namespace, its pods placed on kwok fake nodes):

1. Fan-out: ``--count`` RenderJobs are created as fast as a few client threads manage. Measured:
   seconds from the first create until every Job exists and until every resource is in a
   terminal phase (watch streams here), the operator's RSS (sampled each second, and the
   kernel's high-water mark ``VmHWM``), its CPU seconds, its own
   ``reelkube_apply_to_job_created_seconds`` histogram, and the API objects that exist per
   resource afterwards. kwok "runs" each pod at once: this times the operator and the API
   server, not ffmpeg. Fake nodes are added (``--pods-per-node`` pods each) so that capacity
   never limits, and removed at the end.
2. Progress path: ``--writers`` threads, each holding a token of *its own* resource's
   ServiceAccount (TokenRequest API, as the pod's projected token), patch that resource's
   ``status`` subresource once a second for ``--write-seconds``. Measured: write latency
   p50/p95/p99, achieved writes per second, errors by HTTP status, and a cross-write check
   (one token patching another resource's status must get 403).

The namespace and the fake nodes are deleted afterwards (``--keep`` leaves them). Every wait is
bounded (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

import aiohttp  # noqa: E402 - kopf's HTTP client: one event loop drives every simulated pod
import httpx  # noqa: E402
from bench_operator import report, summary  # noqa: E402
from kubernetes import client, config, watch  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from reelkube.pipeline.pacing import WritePacer  # noqa: E402
from reelkube.pipeline.status_reporter import retry_after_seconds  # noqa: E402
from support.network import free_port  # noqa: E402
from support.reelkube_cluster import (  # noqa: E402
    KWOK_SELECTOR,
    KWOK_TOLERATIONS,
    ROOT,
    Cluster,
    connect_cluster,
    ensure_kwok_ephemeral_storage,
    install_crds,
)

GROUP, VERSION, PLURAL = "reelkube.io", "v1alpha1", "renderjobs"
TERMINAL = {"Succeeded", "Failed", "Canceled"}
BENCH_TAINT = {"key": "reelkube.io/bench", "value": "scale", "effect": "NoSchedule"}
BENCH_TOLERATION = {"key": "reelkube.io/bench", "operator": "Exists", "effect": "NoSchedule"}
CHILD_KINDS = ("configmaps", "serviceaccounts", "roles", "rolebindings", "jobs", "pods")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- fake capacity ------------------------------------------------------------------------


def fake_node(name: str, pods: int) -> dict[str, Any]:
    """A kwok-managed node with room for ``pods`` pods (tainted: only bench pods go there)."""
    capacity = {"cpu": "1000", "memory": "4Ti", "pods": str(pods), "ephemeral-storage": "100Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                **KWOK_SELECTOR,
                "reelkube.io/bench": "scale",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"taints": [BENCH_TAINT]},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def add_fake_nodes(cluster: Cluster, count: int, pods_per_node: int) -> list[str]:
    """Create ``count`` fake nodes and wait (bounded) until kwok reports them Ready."""
    names = [f"kwok-bench-{i}" for i in range(count)]
    for name in names:
        cluster.apply(fake_node(name, pods_per_node))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = cluster.kubectl_json("get", "nodes", "-l", "reelkube.io/bench=scale")["items"]
        ready = [
            n
            for n in nodes
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or []
            )
        ]
        if len(ready) >= count:
            return names
        time.sleep(1)
    raise RuntimeError(f"kwok did not make {count} fake nodes Ready in 60 s")


# --- the operator as its own process ------------------------------------------------------


class OperatorProcess:
    """``kopf run`` of this checkout's handlers in a child process; samples its RSS and CPU."""

    def __init__(self, cluster: Cluster, namespace: str, log_path: Path) -> None:
        self.metrics_port = free_port()
        tolerations = [*KWOK_TOLERATIONS, BENCH_TOLERATION]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "operator"),
            "KUBECONFIG": str(cluster.kubeconfig),
            "REELKUBE_METRICS_PORT": str(self.metrics_port),
            "REELKUBE_WATCH_NAMESPACES": namespace,
            "REELKUBE_RENDERER_IMAGE": cluster.renderer_image,
            "REELKUBE_IMAGE_PULL_POLICY": "Never",
            "REELKUBE_JOB_NODE_SELECTOR": json.dumps(KWOK_SELECTOR),
            "REELKUBE_JOB_TOLERATIONS": json.dumps(tolerations),
            "REELKUBE_LOG_LEVEL": "WARNING",
        }
        args = [sys.executable, "-m", "kopf", "run", "--standalone", "--quiet", "--namespace", namespace]
        args += ["-m", "reelkube.controller.handlers"]
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.rss_samples: list[int] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.rss_samples.append(self._status_kib("VmRSS"))
            except OSError:
                return

    def peak_rss_mib(self) -> float:
        """The kernel's high-water mark of the process's resident set (VmHWM)."""
        return round(self._status_kib("VmHWM") / 1024, 1)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far."""
        return cpu_seconds(self.process.pid)

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Samples of the operator's /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.process.returncode}")
            try:
                self.scrape()
                time.sleep(3)  # metrics are served at startup; give kopf's watches a moment
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the operator did not serve /metrics in time")

    def stop(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


# --- phase 1: fan-out ---------------------------------------------------------------------


def render_job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": {
            "template": "static-ad",
            "props": {"headline": name},
            "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
        },
    }


def fan_out(namespace: str, count: int, timeout: float) -> dict[str, Any]:
    """Create ``count`` RenderJobs; time until all Jobs exist and all resources are terminal."""
    custom, batch = client.CustomObjectsApi(), client.BatchV1Api()
    jobs_seen: dict[str, float] = {}
    terminal: dict[str, tuple[float, str]] = {}
    all_jobs, all_terminal = threading.Event(), threading.Event()

    deadline = time.monotonic() + timeout

    def keep_watching(done: threading.Event, list_call: Any, *args: Any) -> Any:
        """Watch until ``done`` or the deadline, starting again (from a fresh list, whose ADDED
        events re-deliver every object) whenever the stream ends or fails."""
        while not done.is_set() and time.monotonic() < deadline:
            stream = watch.Watch()
            try:
                remaining = max(1, int(deadline - time.monotonic()))
                for event in stream.stream(list_call, *args, timeout_seconds=remaining):
                    if event["type"] == "ERROR":  # e.g. 410 Gone: list and watch again
                        raise ValueError(f"watch error {event['raw_object']}")
                    yield event
                    if done.is_set():
                        stream.stop()
            except (client.ApiException, OSError, ValueError) as exc:
                print(f"watch restarted after: {exc}", file=sys.stderr, flush=True)
                time.sleep(1)

    def watch_jobs() -> None:
        for event in keep_watching(all_jobs, batch.list_namespaced_job, namespace):
            jobs_seen.setdefault(event["object"].metadata.name, time.monotonic())
            if len(jobs_seen) >= count:
                all_jobs.set()

    def watch_resources() -> None:
        args = (GROUP, VERSION, namespace, PLURAL)
        for event in keep_watching(all_terminal, custom.list_namespaced_custom_object, *args):
            obj = event["object"]
            phase = (obj.get("status") or {}).get("phase")
            if phase in TERMINAL:
                terminal.setdefault(obj["metadata"]["name"], (time.monotonic(), phase))
            if len(terminal) >= count:
                all_terminal.set()

    for target in (watch_jobs, watch_resources):
        threading.Thread(target=target, daemon=True).start()
    time.sleep(2)  # both watches are established (the namespace is empty)
    names = [f"scale-{i:04d}" for i in range(count)]
    errors: Counter[str] = Counter()

    def create(name: str) -> None:
        try:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, render_job(name))
        except client.ApiException as exc:
            errors[str(exc.status)] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, names))
    applied = time.monotonic() - started
    all_jobs.wait(max(0.0, timeout - (time.monotonic() - started)))
    jobs_done = time.monotonic()
    all_terminal.wait(max(0.0, timeout - (time.monotonic() - started)))
    return {
        "count": count,
        "create_errors": dict(errors),
        "seconds_to_apply_all": round(applied, 2),
        "jobs_seen": len(jobs_seen),
        "seconds_until_all_jobs_exist": round(max(jobs_seen.values()) - started, 2)
        if len(jobs_seen) >= count
        else None,
        "terminal_seen": len(terminal),
        "terminal_phases": dict(Counter(phase for _, phase in terminal.values())),
        "seconds_until_all_terminal": round(max(t for t, _ in terminal.values()) - started, 2)
        if len(terminal) >= count
        else None,
        "gave_up_after_seconds": None if all_terminal.is_set() else round(time.monotonic() - started, 1),
        "_jobs_done_at": jobs_done,
    }


def objects_per_resource(cluster: Cluster, namespace: str, count: int) -> dict[str, float]:
    """Objects labelled as the operator's (or its Jobs' pods) per resource, by kind."""
    out: dict[str, float] = {}
    for kind in CHILD_KINDS:
        items = cluster.kubectl_json(
            "-n", namespace, "get", kind, "-l", "app.kubernetes.io/managed-by=reelkube", "--chunk-size=500"
        )["items"]
        out[kind] = round(len(items) / count, 3)
    out["total"] = round(sum(out.values()), 3)
    return out


def fan_out_with_metrics(
    cluster: Cluster, operator: OperatorProcess, namespace: str, count: int, timeout: float
) -> dict[str, Any]:
    """:func:`fan_out`, plus what the operator process spent and its own latency histogram."""
    rss_idle = operator.peak_rss_mib()
    cpu_before = operator.cpu_seconds()
    fan = fan_out(namespace, count, timeout)
    fan.pop("_jobs_done_at")
    fan["operator_cpu_seconds"] = round(operator.cpu_seconds() - cpu_before, 1)
    fan["operator_rss_mib_at_start"] = rss_idle
    fan["operator_peak_rss_mib"] = operator.peak_rss_mib()
    metrics = operator.scrape()
    kind = (("kind", "RenderJob"),)
    fan["operator_jobs_created_total"] = metrics.get(("reelkube_jobs_created_total", kind))
    buckets = {
        float(dict(labels)["le"]): value
        for (name, labels), value in metrics.items()
        if name == "reelkube_apply_to_job_created_seconds_bucket" and dict(labels).get("kind") == "RenderJob"
    }
    fan["operator_apply_to_job_created_buckets"] = {str(k): v for k, v in sorted(buckets.items())}
    fan["objects_per_resource"] = objects_per_resource(cluster, namespace, count)
    return fan


# --- phase 2: status writes through each pod's own identity --------------------------------


def token_for(core: client.CoreV1Api, namespace: str, account: str, seconds: int) -> str:
    """A bound token of ``account`` (the TokenRequest API, what the kubelet projects into pods)."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": seconds},
    }
    return str(core.create_namespaced_service_account_token(account, namespace, request).status.token)


def status_url(host: str, namespace: str, name: str) -> str:
    return f"{host}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"


class Processes:
    """CPU seconds of the control plane's processes, the operator and this script."""

    NAMES = {"kube-apiserver": "bin/kube-apiserver", "etcd": "bin/etcd"}

    def __init__(self, operator_pid: int) -> None:
        self.pids: dict[str, list[int]] = {name: [] for name in self.NAMES}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
            except OSError:
                continue
            for name, suffix in self.NAMES.items():
                if argv0.endswith(suffix):
                    self.pids[name].append(int(entry.name))
        self.pids["operator"] = [operator_pid]
        self.pids["bench"] = [os.getpid()]

    @staticmethod
    def _machine() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait

    def sample(self) -> dict[str, float]:
        out = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()}
        out["machine"] = self._machine()
        return out


def freshness(
    emitted: dict[str, list[tuple[float, int]]], seen: dict[str, list[tuple[float, int]]]
) -> list[float]:
    """For every progress value a simulated renderer emitted: seconds until the status showed it
    or a newer one (what "progress reaches the status within N s of emitting it" means). Values
    never shown are left out (counted apart)."""
    delays: list[float] = []
    for name, emissions in emitted.items():
        shown = seen.get(name, [])
        index = 0
        for emitted_at, frame in emissions:
            while index < len(shown) and shown[index][1] < frame:
                index += 1
            if index == len(shown):
                break
            delays.append(max(0.0, shown[index][0] - emitted_at))
    return delays


def status_writes(
    namespace: str, writers: int, seconds: float, operator_pid: int, emit_every: float = 0.5
) -> dict[str, Any]:
    """``writers`` simulated render pods, each holding a token of *its own* resource's
    ServiceAccount (TokenRequest API, as the pod's projected token). Each emits a progress value
    every ``emit_every`` seconds (ffmpeg's -progress cadence) and writes the latest to its
    resource's ``status`` paced by the runner's own :class:`WritePacer`; a watch records when
    each value becomes visible. One asyncio loop drives them all: the load generator shares the
    cluster's two cores, so it has to be cheap."""
    custom, core = client.CustomObjectsApi(), client.CoreV1Api()
    listing = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    targets = [
        (b["metadata"]["name"], b["status"]["jobName"])
        for b in listing["items"]
        if (b.get("status") or {}).get("jobName")
    ][:writers]
    if len(targets) < writers:
        raise RuntimeError(f"only {len(targets)} resources have a Job (and so a ServiceAccount)")
    token_started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda t: token_for(core, namespace, t[1], 3600), targets))
    token_seconds = time.monotonic() - token_started
    api = client.Configuration.get_default_copy()
    host = api.host
    ca = ssl.create_default_context(cafile=api.ssl_ca_cert)
    admin = ssl.create_default_context(cafile=api.ssl_ca_cert)
    admin.load_cert_chain(api.cert_file, api.key_file)
    headers = {"Content-Type": "application/merge-patch+json"}

    # The RBAC path, both ways: one identity may write its own status and not a neighbour's.
    with httpx.Client(verify=ca, headers={"Authorization": f"Bearer {tokens[0]}"}) as probe:
        other = probe.patch(
            status_url(host, namespace, targets[1][0]),
            content=b'{"status":{"etaSeconds":1}}',
            headers=headers,
        )
        spec = probe.patch(
            f"{host}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{targets[0][0]}",
            content=b'{"metadata":{"labels":{"x":"y"}}}',
            headers=headers,
        )

    emitted: dict[str, list[tuple[float, int]]] = {name: [] for name, _ in targets}
    seen: dict[str, list[tuple[float, int]]] = {}
    latencies: list[float] = []
    intervals: list[float] = []
    errors: Counter[str] = Counter()
    rewatches = 0
    first_frame = 1_000_000  # above anything the fan-out wrote
    processes = Processes(operator_pid)

    async def watch(resource_version: str, stop: asyncio.Event) -> None:
        nonlocal rewatches
        url = f"{host}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}?watch=1"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=admin)) as session:
            while not stop.is_set():
                async with session.get(
                    f"{url}&resourceVersion={resource_version}", timeout=aiohttp.ClientTimeout(total=None)
                ) as response:
                    async for line in response.content:
                        now = time.monotonic()
                        event = json.loads(line)
                        body = event["object"]
                        if event["type"] == "ERROR":
                            raise RuntimeError(f"the watch failed: {body}")
                        resource_version = body["metadata"]["resourceVersion"]
                        frame = (body.get("status") or {}).get("currentFrame")
                        if isinstance(frame, int) and frame >= first_frame:
                            seen.setdefault(body["metadata"]["name"], []).append((now, frame))
                rewatches += 1

    async def pod(index: int, session: aiohttp.ClientSession, start_at: float) -> None:
        name = targets[index][0]
        url = status_url(host, namespace, name)
        auth = {**headers, "Authorization": f"Bearer {tokens[index]}"}
        pacer = WritePacer()
        phase = index / len(targets)  # pods start spread over the first second
        end_at = start_at + seconds

        def latest_frame() -> int:
            # The renderer's emissions so far (they tick on their own clock, writes or not).
            ticks = int((time.monotonic() - start_at - phase) / emit_every)
            for tick in range(len(emitted[name]), max(0, ticks) + 1):
                emitted[name].append((start_at + phase + tick * emit_every, first_frame + tick))
            return first_frame + max(0, ticks)

        await asyncio.sleep(max(0.0, start_at + phase - time.monotonic()))
        while True:
            final = time.monotonic() >= end_at  # the runner's close(): one last, unpaced write
            body = json.dumps({"status": {"currentFrame": latest_frame()}}).encode()
            sent = time.monotonic()
            throttled, retry_after = False, 0.0
            try:
                async with session.patch(url, data=body, headers=auth) as response:
                    await response.read()
                    if response.status != 200:
                        errors[str(response.status)] += 1
                        throttled = True
                        retry_after = retry_after_seconds(response.headers)
                    else:
                        latencies.append(time.monotonic() - sent)
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors[type(exc).__name__] += 1
                throttled = True
            intervals.append(
                pacer.record(time.monotonic() - sent, throttled=throttled, retry_after=retry_after)
            )
            if final:
                return
            await asyncio.sleep(max(0.0, min(end_at, sent + pacer.interval) - time.monotonic()))

    async def run() -> float:
        resource_version = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, limit=1)[
            "metadata"
        ]["resourceVersion"]
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(resource_version, stop))
        await asyncio.sleep(1)
        connector = aiohttp.TCPConnector(ssl=ca, limit=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            start_at = time.monotonic() + 1
            await asyncio.gather(*(pod(i, session, start_at) for i in range(len(targets))))
        await asyncio.sleep(3)  # the last writes reach the watch
        stop.set()
        watcher.cancel()
        return time.monotonic() - 3 - start_at

    cpu_before = processes.sample()
    elapsed = asyncio.run(run())
    cpu = {k: round((v - cpu_before[k]) / elapsed, 2) for k, v in processes.sample().items()}
    delays = freshness(emitted, seen)
    emissions = sum(len(v) for v in emitted.values())
    tail = intervals[len(intervals) // 2 :]  # the settled half
    return {
        "writers": len(targets),
        "seconds": seconds,
        "emit_every_seconds": emit_every,
        "tokens_seconds": round(token_seconds, 2),
        "writes_ok": len(latencies),
        "writes_per_second": round(len(latencies) / elapsed, 1),
        "errors": dict(errors),
        "write_latency_seconds": summary(latencies),
        "write_spacing_seconds_settled": summary(tail),
        "emitted_to_visible_seconds": summary(delays),
        "emitted_within_2s": round(sum(d <= 2 for d in delays) / emissions, 4) if emissions else None,
        "emissions_never_visible": emissions - len(delays),
        "rewatches": rewatches,
        "cpu_cores": cpu,
        "own_status_patch_status": 200 if latencies else None,
        "neighbour_status_patch_status": other.status_code,
        "own_spec_patch_status": spec.status_code,
    }


# --- what must hold before and after ------------------------------------------------------


def settle_other_operators(cluster: Cluster) -> None:
    """Wait for any chart-installed operator's rollout, then refuse to run beside one.

    A second operator watching every namespace would also reconcile the bench's resources and
    start their pods on the real node (where the bench's 64Mi limit OOM-kills them): the
    figures would then be of two operators, and some resources would fail for the wrong reason.
    """
    found = cluster.kubectl_json("get", "deployments", "-A", "-l", "app.kubernetes.io/name=reelkube")["items"]
    for deployment in found:
        meta = deployment["metadata"]
        cluster.kubectl(
            "-n", meta["namespace"], "rollout", "status", f"deployment/{meta['name']}", "--timeout=300s",
            timeout=330,
        )  # fmt: skip
    if found:
        names = ", ".join(f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in found)
        raise SystemExit(
            f"another Reelkube operator runs in this cluster ({names}); it would reconcile the "
            "bench's resources too. Uninstall it (helm uninstall) and run the bench again."
        )


def problems(results: dict[str, Any], count: int) -> list[str]:
    """Everything that makes this run's figures untrustworthy: lost, failed or unseen work."""
    found: list[str] = []
    fan = results.get("fan_out")
    if fan is not None:
        phases = fan.get("terminal_phases", {})
        bad = {phase: n for phase, n in phases.items() if phase != "Succeeded"}
        if bad:
            found.append(f"resources that did not succeed: {bad}")
        if fan.get("terminal_seen", 0) < count:
            found.append(f"only {fan.get('terminal_seen', 0)} of {count} resources reached a terminal phase")
        if fan.get("create_errors"):
            found.append(f"create errors: {fan['create_errors']}")
    writes = results.get("status_writes")
    if writes is not None:
        if writes.get("emissions_never_visible"):
            found.append(f"{writes['emissions_never_visible']} progress values never reached the status")
        if writes.get("errors"):
            found.append(f"status write errors: {writes['errors']}")
    return found


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200, help="RenderJobs to fan out (default 200)")
    parser.add_argument("--writers", type=int, default=100, help="concurrent status writers (default 100)")
    parser.add_argument(
        "--write-seconds", type=float, default=30, help="length of the write phase (default 30)"
    )
    parser.add_argument("--pods-per-node", type=int, default=500, help="pod capacity of each fake node")
    parser.add_argument(
        "--timeout", type=float, default=480, help="bound on the fan-out phase (default 480 s)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the namespace and fake nodes")
    parser.add_argument(
        "--reuse",
        metavar="NAMESPACE",
        help="skip the fan-out: write to the resources a --keep run left in NAMESPACE",
    )
    args = parser.parse_args()
    if args.writers > args.count and not args.reuse:
        parser.error("--writers cannot exceed --count (each writer needs its own resource)")

    cluster = connect_cluster()
    settle_other_operators(cluster)
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)
    config.load_kube_config(config_file=str(cluster.kubeconfig))
    namespace = args.reuse or f"scale-{uuid.uuid4().hex[:6]}"
    if not args.reuse:
        cluster.kubectl("create", "namespace", namespace)
    nodes = add_fake_nodes(cluster, max(1, math.ceil(args.count / args.pods_per_node)), args.pods_per_node)
    log_path = Path(f"/tmp/bench-scale-operator-{namespace}.log")
    operator = OperatorProcess(cluster, namespace, log_path)
    results: dict[str, Any] = {
        "namespace": namespace,
        "fake_nodes": len(nodes),
        "operator_log": str(log_path),
    }
    try:
        operator.wait_ready()
        if not args.reuse:
            results["fan_out"] = fan_out_with_metrics(cluster, operator, namespace, args.count, args.timeout)
            print(json.dumps(results["fan_out"], indent=2), flush=True)
        if args.writers:
            cpu_before = operator.cpu_seconds()
            writes = status_writes(namespace, args.writers, args.write_seconds, operator.process.pid)
            writes["operator_cpu_seconds"] = round(operator.cpu_seconds() - cpu_before, 1)
            writes["operator_peak_rss_mib"] = operator.peak_rss_mib()
            results["status_writes"] = writes
            print(json.dumps(writes, indent=2), flush=True)
    finally:
        operator.stop()
        if not args.keep:
            cluster.kubectl(
                "delete", "namespace", namespace, "--wait=true", "--timeout=300s", check=False, timeout=330
            )
            for node in nodes:
                cluster.kubectl("delete", "node", node, "--wait=false", check=False)
    found = problems(results, 0 if args.reuse else args.count)
    results["problems"] = found
    report(results, args.json)
    if found:
        print("BENCH FAILED: " + "; ".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
