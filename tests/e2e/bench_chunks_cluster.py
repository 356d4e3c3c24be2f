"""Chunked rendering benchmark on the test cluster (not a test; run it by hand, under the lock):

    flock /tmp/reelkube-cluster.lock python tests/e2e/bench_chunks_cluster.py [--json out.json]

A 60 s 1080x1920 timeline (four of the examples' slides, each 15 s with a Ken Burns pan, joined
by crossfades, a title over the first 3 s, the examples' music) rendered, apply to Succeeded:

(a) by one pod limited to 1 CPU;
(b) in 2 chunks by 2 pods limited to 1 CPU each (both fit the test node's 2 cores: the operator
    is installed without a CPU request), merge included, chunk cache off;
(c) in 4 chunks with the cache on (2 pods at a time), then deleted and re-applied with a new
    title, which shows in the first window only: (d) re-renders one window of four.

(a) and (b) alternate for --repeat rounds (medians). Prints the times, the speed-up (a)/(b) (the
issue's target: >= 1.6x) and (d) against (c), the frame counts of the outputs, and each pod's
creation, start and end in the last round (seconds after apply, the API's whole seconds).
"""

from __future__ import annotations

import argparse
import calendar
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

import httpx  # noqa: E402

from reelkube.engine.merge import count_video_frames  # noqa: E402
from support.reelkube_cluster import (
    RELEASE,
    ROOT,
    SYSTEM_NS,
    Cluster,
    build_project_images,
    connect_cluster,
    create_storage_secret,  # noqa: E402
    host_s3_client,
    install_crds,
    install_release,
    wait_for_operator_rollout,
)

SECONDS = 60
FPS = 25
SLIDES = ("slide-1.jpg", "slide-2.jpg", "slide-3.jpg", "slide-4.jpg")
ONE_CPU = {"cpu": "1", "memory": "2Gi", "ephemeralStorage": "2Gi"}


def timeline(bucket: str, title: str) -> dict[str, Any]:
    """The 60 s portrait slideshow (see the module docstring)."""
    share = SECONDS / len(SLIDES)
    slides = []
    for number, slide in enumerate(SLIDES):
        clip: dict[str, Any] = {
            "type": "image",
            "src": f"s3://{bucket}/bench/{slide}",
            "duration": share + (0.5 if number else 0),
            "fit": "cover",
            "kenBurns": {"zoomStart": 1.0, "zoomEnd": 1.15, "panX": 0.2 if number % 2 else -0.2},
        }
        if number:
            clip["transition"] = {"type": "fade", "duration": 0.5}
        slides.append(clip)
    return {
        "width": 1080,
        "height": 1920,
        "fps": FPS,
        "duration": SECONDS,
        "tracks": [
            {"clips": slides},
            {
                "clips": [
                    {"type": "text", "text": title, "start": 0, "duration": 3, "fontSize": 96, "fadeIn": 0.5}
                ]
            },
            {
                "clips": [
                    {"type": "audio", "src": f"s3://{bucket}/bench/music.m4a", "start": 0, "volume": 0.6}
                ]
            },
        ],
    }


def manifest(
    name: str, namespace: str, bucket: str, *, title: str, chunks: int | None, cache: bool
) -> dict[str, Any]:
    output: dict[str, Any] = {"thumbnail": False}
    if chunks:
        output.update(chunks=chunks, chunkCache=cache)
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "timeline": timeline(bucket, title),
            "output": output,
            "resources": ONE_CPU,
            "timeoutSeconds": 3600,
            "retries": 0,
        },
    }


def render(cluster: Cluster, body: dict[str, Any], timeout: float = 3600) -> tuple[float, dict[str, Any]]:
    """Apply ``body`` and wait for a terminal phase: seconds from apply to Succeeded, and the
    final status (when the merge ran is in the pod timeline)."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    started = time.monotonic()
    cluster.apply(body)
    while time.monotonic() - started < timeout:
        proc = cluster.kubectl("-n", namespace, "get", "rj", name, "-o", "json", check=False)
        status = (json.loads(proc.stdout).get("status") or {}) if proc.returncode == 0 else {}
        if status.get("phase") in ("Succeeded", "Failed", "Canceled"):
            elapsed = time.monotonic() - started
            if status["phase"] != "Succeeded":
                raise SystemExit(f"{name}: {status.get('reason')}: {status.get('message')}")
            return elapsed, status
        time.sleep(0.5)
    raise SystemExit(f"{name}: not finished within {timeout:.0f} s")


def pod_timeline(cluster: Cluster, namespace: str, since: float) -> list[dict[str, Any]]:
    """Each pod of ``namespace`` created after ``since`` (epoch s): seconds from ``since`` to its
    creation, its container's start and its end, by the API's clock (second resolution)."""
    proc = cluster.kubectl("-n", namespace, "get", "pods", "-o", "json")
    rows = []
    for pod in json.loads(proc.stdout)["items"]:
        created = _epoch(pod["metadata"]["creationTimestamp"])
        if created < since - 1:
            continue
        state = ((pod.get("status", {}).get("containerStatuses") or [{}])[0]).get("state", {})
        done = state.get("terminated") or {}
        rows.append(
            {
                "pod": pod["metadata"]["name"],
                "created": round(created - since, 1),
                "started": round(_epoch(done["startedAt"]) - since, 1) if done.get("startedAt") else None,
                "finished": round(_epoch(done["finishedAt"]) - since, 1) if done.get("finishedAt") else None,
            }
        )
    return sorted(rows, key=lambda row: row["created"])


def _epoch(stamp: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))


def frames_of(status: dict[str, Any], scratch: Path) -> int:
    path = scratch / f"{uuid.uuid4().hex[:6]}.mp4"
    path.write_bytes(httpx.get(status["outputs"]["video"]["url"], timeout=120).content)
    try:
        return count_video_frames(path)
    finally:
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (a) and (b) (medians)")
    parser.add_argument("--skip-build", action="store_true", help="use the images already loaded")
    args = parser.parse_args()

    cluster = connect_cluster()
    if not args.skip_build:
        build_project_images()
    bucket = f"bench-chunks-{uuid.uuid4().hex[:6]}"
    s3 = host_s3_client(cluster)
    s3.create_bucket(Bucket=bucket)
    for asset in (*SLIDES, "music.m4a"):
        s3.upload_file(str(ROOT / "examples" / "assets" / asset), bucket, f"bench/{asset}")
    install_crds(cluster)
    # Two 1-CPU render pods must fit the 2-core node: one operator, without a CPU request.
    install_release(
        cluster, bucket, "--set", "operator.replicas=1", "--set-string", "operator.resources.requests.cpu=0"
    )
    wait_for_operator_rollout(cluster)
    namespace = f"bench-chunks-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    create_storage_secret(cluster, namespace)
    scratch = Path(
        subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip()
    )
    results: dict[str, Any] = {"timeline": f"{SECONDS} s 1080x1920 at {FPS} fps", "pod_cpu": "1"}
    try:
        singles: list[float] = []
        twos: list[float] = []
        for round_ in range(args.repeat):
            # (a) and (b) alternate, so that a change in the machine's load touches both.
            since = time.time()
            single, status = render(
                cluster,
                manifest(f"single-{round_}", namespace, bucket, title="Reelkube", chunks=None, cache=False),
            )
            singles.append(single)
            results["a_frames"] = frames_of(status, scratch)
            results["a_pods"] = pod_timeline(cluster, namespace, since)
            since = time.time()
            two, status = render(
                cluster, manifest(f"two-{round_}", namespace, bucket, title="Reelkube", chunks=2, cache=False)
            )
            twos.append(two)
            results["b_frames"] = frames_of(status, scratch)
            results["b_pods"] = pod_timeline(cluster, namespace, since)
            print(
                f"round {round_ + 1}: (a) one pod, 1 CPU: {single:.1f} s; (b) 2 chunks, 2 pods of 1 CPU:"
                f" {two:.1f} s; {single / two:.2f}x",
                flush=True,
            )
        single, two = statistics.median(singles), statistics.median(twos)
        results.update(
            a_single_pod_s=[round(t, 1) for t in singles],
            b_two_chunks_s=[round(t, 1) for t in twos],
            a_median_s=round(single, 1),
            b_median_s=round(two, 1),
            speedup_a_over_b=round(single / two, 2),
        )
        print(f"medians: (a) {single:.1f} s, (b) {two:.1f} s: speed-up {single / two:.2f}x", flush=True)

        full, status = render(
            cluster, manifest("cached", namespace, bucket, title="Reelkube", chunks=4, cache=True)
        )
        results["c_four_chunks_cache_filled_s"] = round(full, 1)
        results["c_cache"] = [status["chunks"][str(i)]["cache"] for i in range(4)]
        cluster.kubectl("-n", namespace, "delete", "rj", "cached", "--wait=true")
        changed, status = render(
            cluster, manifest("cached", namespace, bucket, title="New title", chunks=4, cache=True)
        )
        results["d_one_window_changed_s"] = round(changed, 1)
        results["d_cache"] = [status["chunks"][str(i)]["cache"] for i in range(4)]
        results["d_frames"] = frames_of(status, scratch)
        results["d_over_c"] = round(changed / full, 2)
        print(
            f"(c) 4 chunks, cache filled: {full:.1f} s; (d) one window changed: {changed:.1f} s", flush=True
        )
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.helm("uninstall", RELEASE, "-n", SYSTEM_NS, "--wait", check=False)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
