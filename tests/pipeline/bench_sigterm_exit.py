"""How long the render pod's runner takes from SIGTERM to its exit, under a CPU quota (not a
test; run it by hand, as root on a cgroup v1 or v2 machine)::

    python tests/pipeline/bench_sigterm_exit.py [--cpu 0.25] [--runs 3] [--when rendering]

``reelkube job`` runs as a process of its own with the pod's environment, inside a cgroup whose
CPU quota is ``--cpu`` cores (as a pod's ``resources.limits.cpu``), rendering a long 1080p
timeline with a slow preset, so that its ffmpeg keeps the quota busy. It gets SIGTERM, as the
kubelet sends it to a deleted pod's PID 1:

- ``--when rendering``: ``--delay`` seconds after ffmpeg started;
- ``--when startup``: ``--delay`` seconds after the process started (Python's imports), with
  ``--no-bytecode`` to compile every module as a pod without ``.pyc`` files would, and
  ``--pid1`` to run it as PID 1 of a PID namespace (``unshare``), as in a container of its own,
  where a SIGTERM that comes before the runner's handler is dropped.

For each run it prints the exit code, the termination message's reason, and the seconds from
the signal to the exit; then the median and the maximum. A pod's grace period (the chart's
``jobs.terminationGracePeriodSeconds``, 10 s in the tests) must hold the maximum with room to
spare, or the kubelet's SIGKILL turns the stop into exit 137.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def long_render(seconds: int, preset: str) -> dict[str, Any]:
    """A 1080p timeline far longer than a run waits, with text so every frame is encoded."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "stopme", "namespace": "bench", "uid": "5709e000-0000-0000-0000-0000000000b1"},
        "spec": {
            "timeline": {
                "width": 1920,
                "height": 1080,
                "fps": 30,
                "duration": seconds,
                "tracks": [
                    {"clips": [{"type": "color", "color": "#204060", "start": 0, "duration": seconds}]},
                    {
                        "clips": [
                            {
                                "type": "text",
                                "text": "Stop me",
                                "start": 0,
                                "duration": seconds,
                                "fontSize": 96,
                            }
                        ]
                    },
                ],
            },
            "output": {"preset": preset, "thumbnail": False},
        },
    }


@contextmanager
def cpu_quota(cores: float) -> Iterator[Path]:
    """A fresh cgroup limited to ``cores`` CPUs; yields the file a process's pid goes into."""
    name = f"reelkube-bench-{os.getpid()}"
    quota = int(cores * PERIOD_US)
    if (CGROUP_V1_CPU / "cpu.cfs_quota_us").exists():
        group = CGROUP_V1_CPU / name
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        group = CGROUP_V2 / name
        group.mkdir()
        (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    try:
        yield group / "cgroup.procs"
    finally:
        for _ in range(50):  # the processes may still be leaving
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def runner_pid(unshare: int) -> int:
    """The runner under ``unshare --fork``: its one child, PID 1 in the new namespace."""
    for _ in range(100):
        found = subprocess.run(["pgrep", "-P", str(unshare)], capture_output=True, text=True).stdout.split()
        if found:
            return int(found[0])
        time.sleep(0.01)
    raise SystemExit(f"no child under unshare {unshare}")


def run_once(
    resource: Path, procs: Path, *, when: str, delay: float, no_bytecode: bool, limit: float, pid1: bool
) -> dict[str, Any]:
    """One run: start the runner in the cgroup, signal it, time its exit."""
    work = Path(tempfile.mkdtemp(prefix="reelkube-stop-"))
    log = work / "termination-log"
    env = {**os.environ, "REELKUBE_TERMINATION_LOG": str(log), "PYTHONUNBUFFERED": "1"}
    if no_bytecode:
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(work / "no-pycache"))
    argv = [sys.executable, "-m", "reelkube.cli", "job", "--resource", str(resource)]
    argv += ["--work-dir", str(work / "work"), "--no-status"]
    if pid1:
        # PID 1 of a PID namespace, as in a container: a signal it has no handler for is dropped.
        argv = ["unshare", "--pid", "--fork", "--kill-child", "--", *argv]
    read_fd, write_fd = os.pipe()

    def join_cgroup() -> None:  # in the child, before exec: ffmpeg inherits the cgroup
        procs.write_text(str(os.getpid()))

    proc = subprocess.Popen(
        argv, stdout=write_fd, stderr=subprocess.STDOUT, env=env, preexec_fn=join_cgroup, close_fds=True
    )
    os.close(write_fd)
    started = time.monotonic()
    lines: list[str] = []
    rendering = threading.Event()

    def read() -> None:
        with os.fdopen(read_fd, errors="replace") as stream:
            for line in stream:
                lines.append(line)
                if "event=ffmpeg_start" in line:
                    rendering.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if when == "rendering":
        if not rendering.wait(timeout=300):
            proc.kill()
            raise SystemExit("ffmpeg never started:\n" + "".join(lines[-20:]))
        time.sleep(delay)
    else:
        time.sleep(max(0.0, delay - (time.monotonic() - started)))
    runner = runner_pid(proc.pid) if pid1 else proc.pid
    os.kill(runner, signal.SIGTERM)
    sent = time.monotonic()
    try:
        code = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()  # what the kubelet does at the end of the grace period
        code = proc.wait()
    seconds = time.monotonic() - sent
    reader.join(timeout=5)
    reason = json.loads(log.read_text()).get("reason") if log.exists() and log.read_text() else None
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return {
        "when": when,
        "signal_after_start_s": round(sent - started, 2),
        "exit_code": code,
        "reason": reason,
        "sigterm_to_exit_s": round(seconds, 2),
        "killed_at_limit": code in (-signal.SIGKILL, 128 + signal.SIGKILL),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", type=float, default=0.25, help="CPU quota in cores (default 0.25)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--when", choices=("rendering", "startup"), default="rendering")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds before the SIGTERM (see --when)")
    parser.add_argument("--preset", default="slower")
    parser.add_argument("--seconds", type=int, default=180, help="timeline length")
    parser.add_argument("--no-bytecode", action="store_true", help="compile every module (no .pyc)")
    parser.add_argument("--pid1", action="store_true", help="run the runner as PID 1 (unshare --pid)")
    parser.add_argument("--limit", type=float, default=60.0, help="SIGKILL after this many seconds")
    parser.add_argument("--json", type=Path, help="write the runs here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        resource = Path(tmp) / "resource.json"
        resource.write_text(json.dumps(long_render(args.seconds, args.preset)))
        results = []
        with cpu_quota(args.cpu) as procs:
            for run in range(args.runs):
                result = run_once(
                    resource,
                    procs,
                    when=args.when,
                    delay=args.delay,
                    no_bytecode=args.no_bytecode,
                    limit=args.limit,
                    pid1=args.pid1,
                )
                results.append(result)
                print(f"run {run + 1}: {json.dumps(result)}", flush=True)
    stops = [r["sigterm_to_exit_s"] for r in results]
    print(
        f"SIGTERM -> exit at {args.cpu:g} CPU ({args.when}, {args.runs} runs): "
        f"median {statistics.median(stops):.2f} s, max {max(stops):.2f} s; exit codes "
        f"{sorted({r['exit_code'] for r in results})}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
