"""Completion latency of `reelkube submit --wait` on the test cluster (not a test; run it by hand,
under the cluster lock):

    flock /tmp/reelkube-cluster.lock python tests/client/bench_completion_latency.py --runs 5

Each run submits a two-second captioned reel with `reelkube submit --wait` (a subprocess, as a
user runs it, unbuffered as on a terminal) and times, on this machine's clock:

- ``pod_write``: the render pod's last status write (the pod logs ``event=status_write`` just
  before each write; the kubelet timestamps the line; the pod runs on this machine);
- ``terminal_seen``: the operator's terminal status write (phase Succeeded) arriving on an
  independent watch in this process, the same fan-out the client's watch gets;
- ``line_printed``: the client's plain ``Succeeded`` progress line arriving on its stderr;
- ``urls_printed``: its first output-URL line arriving on its stdout (the wait has returned).

Reported: pod_write -> urls_printed (the closing-note figure: last pod status write to the client
printing completion), split into pod_write -> terminal_seen (the operator: Job completion
observed, terminal status written) and terminal_seen -> urls_printed (the client: watch event
to printed result). The client never polls, so the last share is a watch delivery plus printing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the support package

import yaml  # noqa: E402
from kubernetes import client, config, watch  # noqa: E402

from support.reelkube_cluster import (
    ROOT,
    build_project_images,
    connect_cluster,
    create_storage_secret,  # noqa: E402
    host_s3_client,
    install_crds,
    install_release,
    wait_for_operator_rollout,
)

GROUP, VERSION = "reelkube.io", "v1alpha1"
BACKGROUND = "examples/assets/reel-background.jpg"
STATUS_WRITE = re.compile(r"^(\S+) .*event=status_write")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    """n, min, p50, p95, max and mean (seconds, rounded to ms)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": round(min(values), 3),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def timestamped_lines(stream: IO[str], into: list[tuple[float, str]]) -> threading.Thread:
    """Read ``stream`` line by line in a thread, recording each line's arrival time."""

    def read() -> None:
        for line in stream:
            into.append((time.time(), line.rstrip("\n")))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def one_run(
    cluster: Any, custom: client.CustomObjectsApi, namespace: str, bucket: str, name: str, folder: Path
) -> dict[str, Any]:
    manifest = yaml.safe_load((ROOT / "examples" / "captioned-reel.yaml").read_text())
    manifest["metadata"] = {"name": name}
    manifest["spec"]["props"].update(backgroundUrl=f"s3://{bucket}/{BACKGROUND}", durationSeconds=2)
    manifest["spec"]["output"].update(width=270, height=480, fps=15, preset="veryfast", thumbnail=False)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest))

    terminal_seen: list[float] = []

    def watch_terminal() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            custom.list_namespaced_custom_object, GROUP, VERSION, namespace, "renderjobs",
            field_selector=f"metadata.name={name}", timeout_seconds=600,
        ):  # fmt: skip
            if (event["object"].get("status") or {}).get("phase") in ("Succeeded", "Failed", "Canceled"):
                terminal_seen.append(time.time())
                stream.stop()

    watcher = threading.Thread(target=watch_terminal, daemon=True)
    watcher.start()
    time.sleep(1)  # the watch is established
    out: list[tuple[float, str]] = []
    err: list[tuple[float, str]] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelkube.cli", "submit", str(path), "-n", namespace, "--wait"],
        env={**cluster.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [timestamped_lines(proc.stdout, out), timestamped_lines(proc.stderr, err)]
    code = proc.wait(timeout=600)
    for reader in readers:
        reader.join(10)
    watcher.join(30)
    if code == 2 or not any(text.endswith(" created") for _, text in out):
        raise SystemExit(f"submit of {name} exited {code}: " + "\n".join(text for _, text in err))
    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "renderjobs", name)
    status = body.get("status") or {}
    logs = cluster.kubectl(
        "-n", namespace, "logs", f"job/{status.get('jobName')}", "--timestamps", check=False
    ).stdout
    writes = [
        datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        for m in map(STATUS_WRITE.match, logs.splitlines())
        if m
    ]
    line = next((t for t, text in err if text.startswith(f"{name}  Succeeded")), None)
    urls = next((t for t, text in out if text.startswith(f"{name}: ")), None)
    row: dict[str, Any] = {"name": name, "exit": code, "phase": status.get("phase")}
    if writes and terminal_seen and urls is not None:
        row["pod_write_to_urls_printed"] = urls - writes[-1]
        row["pod_write_to_terminal_seen"] = terminal_seen[0] - writes[-1]
        row["terminal_seen_to_urls_printed"] = urls - terminal_seen[0]
        if line is not None:
            row["terminal_seen_to_line_printed"] = line - terminal_seen[0]
    else:
        row["missing"] = {"pod_writes": len(writes), "terminal_seen": bool(terminal_seen), "urls": urls}
        row["stderr_tail"] = [text for _, text in err][-5:]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="renders to time (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-build", action="store_true", help="use the images already loaded")
    args = parser.parse_args()

    cluster = connect_cluster()
    if not args.no_build:
        build_project_images()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3 = host_s3_client(cluster)
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(ROOT / BACKGROUND), bucket, BACKGROUND)
    install_crds(cluster)
    install_release(cluster, bucket)
    wait_for_operator_rollout(cluster)
    time.sleep(5)  # the operator's watches are established
    config.load_kube_config(config_file=str(cluster.kubeconfig))
    custom = client.CustomObjectsApi()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    create_storage_secret(cluster, namespace)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / namespace
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for i in range(args.runs):
            rows.append(one_run(cluster, custom, namespace, bucket, f"latency-{i}", folder))
            print(json.dumps(rows[-1]), file=sys.stderr)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    keys = ("pod_write_to_urls_printed", "pod_write_to_terminal_seen", "terminal_seen_to_urls_printed",
            "terminal_seen_to_line_printed")  # fmt: skip
    results = {
        "runs": len(rows),
        "succeeded": sum(1 for r in rows if r["phase"] == "Succeeded" and r["exit"] == 0),
        **{key: summary([r[key] for r in rows if key in r]) for key in keys},
        "each": rows,
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if results["succeeded"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
