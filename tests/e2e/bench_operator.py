"""Operator benchmark on the test cluster (not a test; run it by hand or from CI).

    python3 tests/e2e/bench_operator.py [--count 50] [--json results.json]

Measures, with the chart installed from this checkout and the local images:

1. apply -> Job created, p50/p95/max over ``--count`` RenderJobs created back to back, and over
   ``--spaced`` RenderJobs created one a second (the latency a single apply sees). The pods
   go to the fake kwok node (a node selector and toleration set through the chart), which
   "runs" them instantly: this times the operator, not ffmpeg. Clocks: the API call's start
   here and the Job's arrival on a watch stream here.
2. progress write -> status visible on a watch, for a real render of the captioned reel: each
   status write is logged by the pod just before it is sent (``event=status_write``; the
   kubelet timestamps the line), and the watch here records when that progress value arrives.
   Pods run on this machine, so both clocks are the same.
3. apply -> Succeeded for the captioned reel (pod start, download, render, upload, status).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

import yaml  # noqa: E402
from kubernetes import client, config, watch  # noqa: E402

from support.reelkube_cluster import (
    KWOK_SELECTOR,
    KWOK_TOLERATIONS,
    ROOT,
    Cluster,
    build_project_images,
    connect_cluster,
    create_storage_secret,  # noqa: E402
    ensure_kwok_ephemeral_storage,
    host_s3_client,
    install_release,
    wait_for_operator_rollout,
)

GROUP, VERSION = "reelkube.io", "v1alpha1"
LOG_LINE = re.compile(r"^(\S+) .*event=status_write .*progress=(\d+)")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of ``values`` (rounded); just n when there are none."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 4),
        "p95": round(percentile(values, 95), 4),
        "p99": round(percentile(values, 99), 4),
        "max": round(max(values), 4),
        "mean": round(statistics.fmean(values), 4),
    }


def report(results: dict[str, Any], path: Path | None) -> None:
    """Print the results as JSON, and write them to ``path`` too when given."""
    text = json.dumps(results, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n")


def make_bucket(cluster: Cluster) -> str:
    s3 = host_s3_client(cluster)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for path in (ROOT / "examples" / "assets").rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"examples/{path.relative_to(ROOT / 'examples').as_posix()}")
    return bucket


def namespace_with_credentials(cluster: Cluster) -> str:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    create_storage_secret(cluster, name)
    return name


def bench_job_creation(
    cluster: Cluster,
    custom: client.CustomObjectsApi,
    batch: client.BatchV1Api,
    count: int,
    spacing: float = 0.0,
) -> dict[str, Any]:
    """Create ``count`` RenderJobs ``spacing`` seconds apart (0: back to back); time each until
    its Job arrives on a watch."""
    namespace = namespace_with_credentials(cluster)
    created: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch_jobs() -> None:
        stream = watch.Watch()
        for event in stream.stream(batch.list_namespaced_job, namespace, timeout_seconds=600):
            name = event["object"].metadata.labels.get("reelkube.io/name")
            if name and name not in seen:
                seen[name] = time.monotonic()
            if len(seen) >= count:
                stream.stop()
        done.set()

    watcher = threading.Thread(target=watch_jobs, daemon=True)
    watcher.start()
    time.sleep(1)  # the watch is established
    for i in range(count):
        name = f"lat-{i:03d}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RenderJob",
            "metadata": {"name": name},
            "spec": {
                "template": "static-ad",
                "props": {"headline": f"Bench {i}"},
                "resources": {"cpu": "100m", "memory": "64Mi", "ephemeralStorage": "100Mi"},
            },
        }
        if spacing and i:
            time.sleep(spacing)
        created[name] = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "renderjobs", body)
    done.wait(timeout=600)
    latencies = [seen[n] - created[n] for n in created if n in seen]
    result = {"apply_to_job_created_seconds": summary(latencies), "missing": count - len(latencies)}
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    return result


def bench_real_render(cluster: Cluster, custom: client.CustomObjectsApi, bucket: str) -> dict[str, Any]:
    namespace = namespace_with_credentials(cluster)
    reel = yaml.safe_load((ROOT / "examples" / "captioned-reel.yaml").read_text())
    reel["spec"]["props"]["backgroundUrl"] = (
        f"s3://{bucket}/examples/{reel['spec']['props']['backgroundUrl']}"
    )
    reel["metadata"] = {"name": "bench-reel"}
    arrivals: dict[int, float] = {}
    phases: dict[str, float] = {}
    finished = threading.Event()

    def watch_resource() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            custom.list_namespaced_custom_object, GROUP, VERSION, namespace, "renderjobs",
            field_selector="metadata.name=bench-reel", timeout_seconds=900,
        ):  # fmt: skip
            now = time.time()
            status = event["object"].get("status") or {}
            if status.get("progress") is not None:
                arrivals.setdefault(int(status["progress"]), now)
            if status.get("phase"):
                phases.setdefault(status["phase"], now)
            if status.get("phase") in ("Succeeded", "Failed", "Canceled"):
                stream.stop()
        finished.set()

    threading.Thread(target=watch_resource, daemon=True).start()
    time.sleep(1)
    started = time.time()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "renderjobs", reel)
    finished.wait(timeout=900)
    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "renderjobs", "bench-reel")
    status = body.get("status") or {}
    logs = cluster.kubectl(
        "-n", namespace, "logs", f"job/{status.get('jobName')}", "--timestamps", check=False
    ).stdout
    latencies = []
    for line in logs.splitlines():
        match = LOG_LINE.match(line)
        if match and int(match.group(2)) in arrivals:
            written = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
            latencies.append(arrivals[int(match.group(2))] - written)
    result = {
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "apply_to_succeeded_seconds": round(phases.get("Succeeded", float("nan")) - started, 3),
        "apply_to_running_seconds": round(phases.get("Running", float("nan")) - started, 3),
        "progress_values_seen": sorted(arrivals),
        "status_write_to_watch_seconds": summary(latencies) if latencies else None,
    }
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=50, help="resources for the Job-creation latency (default 50)"
    )
    parser.add_argument("--spaced", type=int, default=10, help="resources created one a second (default 10)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--skip-render", action="store_true", help="only the Job-creation latency")
    args = parser.parse_args()

    cluster = connect_cluster()
    build_project_images()
    ensure_kwok_ephemeral_storage(cluster)
    bucket = make_bucket(cluster)
    config.load_kube_config(config_file=str(cluster.kubeconfig))
    custom, batch = client.CustomObjectsApi(), client.BatchV1Api()
    results: dict[str, Any] = {}
    kwok = [
        "--set-json",
        f"jobs.nodeSelector={json.dumps(KWOK_SELECTOR)}",
        "--set-json",
        f"jobs.tolerations={json.dumps(KWOK_TOLERATIONS)}",
    ]
    try:
        install_release(cluster, bucket, *kwok)
        wait_for_operator_rollout(cluster)
        time.sleep(5)  # the operator's watches are established
        results["job_creation"] = bench_job_creation(cluster, custom, batch, args.count)
        if args.spaced:
            results["job_creation_one_a_second"] = bench_job_creation(
                cluster, custom, batch, args.spaced, spacing=1.0
            )
    finally:
        install_release(cluster, bucket)  # back to real placement
    if not args.skip_render:
        wait_for_operator_rollout(cluster)
        time.sleep(5)
        results["captioned_reel"] = bench_real_render(cluster, custom, bucket)
    found = [f"{key}: {row['missing']} resources never got a Job" for key, row in results.items()
             if isinstance(row, dict) and row.get("missing")]  # fmt: skip
    render = results.get("captioned_reel")
    if render is not None and render.get("phase") != "Succeeded":
        found.append(f"the reel ended {render.get('phase')} ({render.get('reason')})")
    report(results, args.json)
    if found:
        print("BENCH FAILED: " + "; ".join(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
