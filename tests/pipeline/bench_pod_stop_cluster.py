"""How a deleted render pod ends on the test cluster, under a quarter of a core (not a test; run
it by hand, under the lock, after ``tests/cluster/images.sh renderer``)::

    flock /tmp/reelkube-cluster.lock python tests/pipeline/bench_pod_stop_cluster.py [--runs 3]

Each run creates one pod the way the operator's render pod is made (the renderer image,
``reelkube job`` on a mounted resource, the same security context, ``resources`` of
``--cpu``, the tests' 10 s grace period), rendering a long 1080p timeline at a slow preset, and
deletes it:

- ``rendering``: ``--delay`` seconds after its runner logged ``event=ffmpeg_start``;
- ``startup``: ``--startup-delay`` seconds (0) after its container was seen running (the
  runner's imports), at ``--startup-cpu``, as the fault-injection run deleted pods right after
  their resource went Running.

Four cases: the runner before the fix (``cancel.py`` and ``pod.py`` of ``--before``, mounted over
the image's copies) as the pod's PID 1, and the runner of the image in a pod that shares its
process namespace (the pause container is PID 1), as the operator now builds it. The pods run
with ``--no-status`` (no API writes). For each run, from a watch on the pod: the container's exit
code, its termination message's reason, whether the runner logged its stop, the seconds from the
SIGTERM to the container's exit by the API server's clocks (``finishedAt`` minus
``deletionTimestamp`` minus the grace period: whole seconds) and from the delete call to the
watch seeing the exit here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

from kubernetes import client, config, watch  # noqa: E402

from support.reelkube_cluster import connect_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RUNNER_FILES = ("operator/reelkube/pipeline/cancel.py", "operator/reelkube/pipeline/pod.py")
GRACE = 10
"""The tests' chart value of jobs.terminationGracePeriodSeconds (support.reelkube_cluster)."""


def long_render(seconds: int, preset: str) -> dict[str, Any]:
    """A 1080p timeline far longer than a run waits: a colour and a title on every frame."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "stopme", "namespace": "bench", "uid": str(uuid.uuid4())},
        "spec": {
            "timeline": {
                "width": 1920,
                "height": 1080,
                "fps": 30,
                "duration": seconds,
                "tracks": [
                    {"clips": [{"type": "color", "color": "#204060", "start": 0, "duration": seconds}]},
                    {"clips": [{"type": "text", "text": "Stop me", "start": 0, "duration": seconds}]},
                ],
            },
            "output": {"preset": preset, "thumbnail": False},
        },
    }


def before_revision() -> str:
    """The commit before the runner learnt to kill its tools on SIGTERM (``stop_children``)."""
    introduced = subprocess.run(
        ["git", "log", "--format=%H", "-S", "def stop_children", "--", RUNNER_FILES[0]],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return f"{introduced[-1]}^"


def probe(cluster: Any, api: client.CoreV1Api, namespace: str, name: str, manifest: dict[str, Any]) -> str:
    """Run ``manifest`` (a pod that prints and exits) and return what it printed."""
    api.create_namespaced_pod(namespace, manifest)
    deadline = time.monotonic() + 180
    while api.read_namespaced_pod(name, namespace).status.phase not in ("Succeeded", "Failed"):
        if time.monotonic() > deadline:
            raise SystemExit(f"probe {name} did not finish")
        time.sleep(0.5)
    said = cluster.kubectl("-n", namespace, "logs", name).stdout.strip()
    api.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    return str(said)


PROBE = """
import os, sys, time
started = time.monotonic()
import reelkube.cli, reelkube.commands.job
imported = time.monotonic() - started
import reelkube, reelkube.pipeline.cancel as cancel
site = os.path.dirname(reelkube.__file__)
pyc = sum(name.endswith(".pyc") for _, _, names in os.walk(os.path.dirname(site)) for name in names)
cfs = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
quota = open(cfs).read().strip() if os.path.exists(cfs) else "?"
print(site, hasattr(cancel, "stop_children"), round(imported, 2), pyc, quota)
"""


def inspect_runner(
    cluster: Any, api: client.CoreV1Api, namespace: str, cpu: str, *, overlay: str | None, package_dir: str
) -> dict[str, Any]:
    """In a pod like the render pod: where the package is, whether the runner is the fixed one,
    how long importing up to the SIGTERM handler takes, .pyc files, the CPU quota."""
    name = f"probe-{uuid.uuid4().hex[:6]}"
    manifest = render_pod(
        name, cluster.renderer_image, cpu, shared=False, overlay=overlay, package_dir=package_dir
    )
    manifest["spec"]["containers"][0]["command"] = ["python3", "-c", PROBE]
    site, fixed, imported, pyc, quota = probe(cluster, api, namespace, name, manifest).split()
    return {
        "site": site,
        "fixed_runner": fixed == "True",
        "import_s": float(imported),
        "pyc": int(pyc),
        "quota": quota,
    }


def render_pod(
    name: str, image: str, cpu: str, *, shared: bool, overlay: str | None, package_dir: str
) -> dict[str, Any]:
    """The render pod as job_manifests builds it, less the operator's parts (no status writes)."""
    mounts = [
        {"name": "spec", "mountPath": "/etc/reelkube", "readOnly": True},
        {"name": "work", "mountPath": "/work"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "spec", "configMap": {"name": "resource"}},
        {"name": "work", "emptyDir": {"sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if overlay:
        volumes.append({"name": "runner", "configMap": {"name": overlay}})
        for path in RUNNER_FILES:
            file = Path(path).name
            mounts.append(
                {
                    "name": "runner",
                    "mountPath": f"{package_dir}/pipeline/{file}",
                    "subPath": file,
                    "readOnly": True,
                }
            )
    quantities = {"cpu": cpu, "memory": "2Gi", "ephemeral-storage": "2Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": GRACE,
            "shareProcessNamespace": shared,
            "enableServiceLinks": False,
            "automountServiceAccountToken": False,
            "nodeSelector": {"reelkube.io/node": "real"},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
            },
            "containers": [
                {
                    "name": "reelkube",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": [
                        "reelkube",
                        "job",
                        "--resource",
                        "/etc/reelkube/resource.json",
                        "--no-status",
                    ],
                    "env": [
                        {"name": "HOME", "value": "/tmp"},
                        {"name": "REELKUBE_WORK_DIR", "value": "/work"},
                    ],
                    "resources": {"requests": quantities, "limits": quantities},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": mounts,
                }
            ],
            "volumes": volumes,
        },
    }


def stamp(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


class PodWatch:
    """The pod's changes, from a watch started before it exists: its container's running and
    terminated states as they arrive (a deleted pod's object goes soon after it ends)."""

    def __init__(self, api: client.CoreV1Api, namespace: str, name: str) -> None:
        self.running_at: float | None = None
        self.ended: dict[str, Any] | None = None
        self.ended_seen: float | None = None
        self.deletion: str | None = None
        self._stop = watch.Watch()
        self._thread = threading.Thread(target=self._follow, args=(api, namespace, name), daemon=True)
        self._thread.start()

    def _follow(self, api: client.CoreV1Api, namespace: str, name: str) -> None:
        for event in self._stop.stream(
            api.list_namespaced_pod, namespace, field_selector=f"metadata.name={name}", timeout_seconds=600
        ):
            pod = event["object"]
            self.deletion = self.deletion or (
                pod.metadata.deletion_timestamp.isoformat() if pod.metadata.deletion_timestamp else None
            )
            for status in pod.status.container_statuses or []:
                if status.state.running and self.running_at is None:
                    self.running_at = time.monotonic()
                ended = status.state.terminated
                if ended and self.ended is None:
                    self.ended_seen = time.monotonic()
                    self.ended = {
                        "exit_code": ended.exit_code,
                        "reason": ended.reason,
                        "finished_at": ended.finished_at.isoformat() if ended.finished_at else None,
                        "message": (ended.message or "")[-300:],
                    }
            if self.ended is not None and self.deletion is not None:
                self._stop.stop()
                return

    def wait(self, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while getattr(self, what) is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for the pod's {what}")
            time.sleep(0.05)


def follow_logs(
    cluster: Any, namespace: str, name: str, lines: list[str], rendering: threading.Event
) -> None:
    """``kubectl logs -f`` into ``lines``; sets ``rendering`` at the runner's ffmpeg_start."""
    proc = subprocess.Popen(
        [str(cluster.kubectl_path), "-n", namespace, "logs", "-f", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cluster.env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "event=ffmpeg_start" in line:
            rendering.set()


def one_run(
    cluster: Any, api: client.CoreV1Api, namespace: str, manifest: dict[str, Any], when: str, delay: float
) -> dict[str, Any]:
    name = manifest["metadata"]["name"]
    pods = PodWatch(api, namespace, name)
    time.sleep(0.3)  # the watch is established
    api.create_namespaced_pod(namespace, manifest)
    pods.wait("running_at", 180)
    lines: list[str] = []
    rendering = threading.Event()
    if when == "startup":
        time.sleep(delay)
    else:
        threading.Thread(
            target=follow_logs, args=(cluster, namespace, name, lines, rendering), daemon=True
        ).start()
        if not rendering.wait(180):
            raise SystemExit("ffmpeg never started:\n" + "".join(lines[-20:]))
        time.sleep(delay)
    since_running = time.monotonic() - (pods.running_at or 0)
    api.delete_namespaced_pod(name, namespace)
    deleted = time.monotonic()
    pods.wait("ended", GRACE + 60)
    pods.wait("deletion", 10)
    ended = pods.ended or {}
    finished, deadline = stamp(ended.get("finished_at")), stamp(pods.deletion)
    message = ended.get("message") or ""
    try:
        reason = json.loads(message).get("reason")
    except ValueError:
        reason = None
    return {
        "when": when,
        "deleted_after_running_s": round(since_running, 2),
        "exit_code": ended.get("exit_code"),
        "container_reason": ended.get("reason"),
        "message_reason": reason,
        "runner_logged_its_stop": any("event=failed" in line and "Canceled" in line for line in lines)
        if when == "rendering"
        else None,
        "sigterm_to_exit_s": round(finished - (deadline - GRACE), 1) if finished and deadline else None,
        "delete_to_exit_seen_s": round((pods.ended_seen or deleted) - deleted, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each rendering case")
    parser.add_argument("--startup-runs", type=int, default=2, help="runs of each startup case")
    parser.add_argument("--cpu", default="250m")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds of ffmpeg before the delete")
    parser.add_argument(
        "--startup-delay", type=float, default=0.0, help="seconds after the container is seen running"
    )
    parser.add_argument("--startup-cpu", default=None, help="CPU of the startup cases (default: --cpu)")
    parser.add_argument("--seconds", type=int, default=120, help="timeline length")
    parser.add_argument("--preset", default="slower")
    parser.add_argument("--before", default=None, help="revision of the runner before the fix")
    parser.add_argument("--only", choices=("before", "after"), help="run one side only")
    parser.add_argument("--json", type=Path, help="write the runs here")
    args = parser.parse_args()
    args.startup_cpu = args.startup_cpu or args.cpu

    cluster = connect_cluster()
    config.load_kube_config(str(cluster.kubeconfig))
    api = client.CoreV1Api()
    namespace = f"podstop-{uuid.uuid4().hex[:6]}"
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    results: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while not api.list_namespaced_service_account(
            namespace, field_selector="metadata.name=default"
        ).items:
            if time.monotonic() > deadline:
                raise SystemExit("no default service account")
            time.sleep(0.5)
        body = long_render(args.seconds, args.preset)
        api.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="resource"), data={"resource.json": json.dumps(body)}
            ),
        )
        revision = args.before or before_revision()
        old = {
            Path(path).name: subprocess.run(
                ["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout
            for path in RUNNER_FILES
        }
        api.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="old-runner"), data=old)
        )
        package_dir = inspect_runner(cluster, api, namespace, args.cpu, overlay=None, package_dir="")["site"]
        for overlay in ("old-runner", None):
            inside = inspect_runner(
                cluster, api, namespace, args.startup_cpu, overlay=overlay, package_dir=package_dir
            )
            print(f"runner {'before' if overlay else 'after'}: {json.dumps(inside)}", flush=True)
            if inside["fixed_runner"] == bool(overlay):
                raise SystemExit(f"the {'old' if overlay else 'new'} runner is not the one the pod runs")
        print(f"renderer image {cluster.renderer_image}; package at {package_dir}; before = {revision}")
        cases = [
            ("before", "pid1", "rendering", args.runs),
            ("before", "pid1", "startup", args.startup_runs),
            ("after", "shared", "rendering", args.runs),
            ("after", "shared", "startup", args.startup_runs),
        ]
        for side, pid, when, count in cases:
            if args.only and side != args.only:
                continue
            for run in range(count):
                name = f"{side}-{when}-{run}"
                cpu = args.startup_cpu if when == "startup" else args.cpu
                manifest = render_pod(
                    name,
                    cluster.renderer_image,
                    cpu,
                    shared=pid == "shared",
                    overlay="old-runner" if side == "before" else None,
                    package_dir=package_dir,
                )
                delay = args.startup_delay if when == "startup" else args.delay
                result = {
                    "runner": side,
                    "pid": pid,
                    "cpu": cpu,
                    **one_run(cluster, api, namespace, manifest, when, delay),
                }
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        api.delete_namespace(namespace)
    print(
        f"\nSIGTERM -> container exit, grace {GRACE} s"
        f" (rendering at {args.cpu}, startup at {args.startup_cpu}):"
    )
    for side, pid, when, _ in cases:
        done = [r for r in results if (r["runner"], r["pid"], r["when"]) == (side, pid, when)]
        if not done:
            continue
        codes = [r["exit_code"] for r in done]
        stops: list[float] = [r["sigterm_to_exit_s"] for r in done if r["sigterm_to_exit_s"] is not None]
        seen: list[float] = [r["delete_to_exit_seen_s"] for r in done]
        median = statistics.median(stops) if stops else float("nan")
        print(
            f"  {side:6} {pid:6} {when:9}: exit codes {codes}; SIGTERM->exit median {median:.1f} s,"
            f" max {max(stops, default=float('nan')):.1f} s; delete->exit seen median"
            f" {statistics.median(seen):.2f} s, max {max(seen):.2f} s"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
