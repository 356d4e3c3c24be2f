"""A render pod stopped during its first seconds, or while a download hangs, exits 143 (retried
by its Job) within its grace period, not 137.

A runner that is PID 1 in its container ignores a SIGTERM it has no handler for: before the
fixes, a pod deleted while it was still importing ran on until the kubelet's SIGKILL, and the
Job's podFailurePolicy failed exit 137 as out of memory (found by tests/chaos/run_chaos.py,
"render pod deleted mid-render"). Render pods now share their process namespace, so the runner
is not PID 1; the handler it installs first still covers a runner that is. Here SIGTERM starts
ignored, as for PID 1, and the runner is held before its work by a resource path that is a FIFO
nobody writes.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from reelkube.api.pod_contract import EXIT_CANCELED


def _term_caught(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return bool(int(fields["SigCgt"], 16) & (1 << (signal.SIGTERM - 1)))


def test_sigterm_before_the_render_starts_exits_143(tmp_path: Path) -> None:
    fifo = tmp_path / "resource.yaml"
    os.mkfifo(fifo)
    runner = [sys.executable, "-m", "reelkube.cli", "job", "--resource", str(fifo), "--no-status"]
    runner += ["--work-dir", str(tmp_path / "work")]
    # SIGTERM ignored from the start, as for PID 1 in a container, then the runner exec'd.
    script = "trap '' TERM; exec " + " ".join(shlex.quote(part) for part in runner)
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Held before its work (reading the FIFO), the runner must already handle SIGTERM.
        deadline = time.monotonic() + 20
        while not _term_caught(proc.pid):
            assert time.monotonic() < deadline, "no SIGTERM handler while the runner starts"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == EXIT_CANCELED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_while_a_download_hangs_exits_143_at_once(tmp_path: Path) -> None:
    # A server that accepts and never answers: the download thread stays blocked in a read, and
    # the interpreter would wait for it at exit (27 s here before the runner exited at once).
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    resource = tmp_path / "resource.json"
    clip = {"type": "image", "src": f"http://127.0.0.1:{port}/a.jpg", "start": 0, "duration": 2}
    resource.write_text(json.dumps({
        "apiVersion": "reelkube.io/v1alpha1", "kind": "RenderJob",
        "metadata": {"name": "hang", "namespace": "m", "uid": "5709e000-0000-0000-0000-0000000000b2"},
        "spec": {"timeline": {"width": 160, "height": 96, "fps": 10, "duration": 2,
                              "tracks": [{"clips": [clip]}]}},
    }))  # fmt: skip
    env = {
        **os.environ,
        "REELKUBE_TERMINATION_LOG": str(tmp_path / "termination-log"),
        "REELKUBE_INPUTS_ALLOWED_CIDRS": "127.0.0.0/8",
    }
    runner = [sys.executable, "-m", "reelkube.cli", "job", "--resource", str(resource), "--no-status"]
    proc = subprocess.Popen(
        [*runner, "--work-dir", str(tmp_path / "work")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        server.settimeout(30)
        connection, _ = server.accept()  # the download has started and waits for an answer
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=20) == EXIT_CANCELED
        assert time.monotonic() - started < 5, "the runner waited for the hung download"
        assert json.loads((tmp_path / "termination-log").read_text())["reason"] == "Canceled"
        connection.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()
