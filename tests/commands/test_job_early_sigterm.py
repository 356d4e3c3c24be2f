"""A render pod stopped during its first seconds exits 143 (retried by its Job), not 137.

The runner is PID 1 in its container, where a SIGTERM without a handler is ignored: before the
fix, a pod deleted while it was still importing ran on until the kubelet's SIGKILL, and the
Job's podFailurePolicy failed exit 137 as out of memory (found by tests/chaos/run_chaos.py,
"render pod deleted mid-render"). Here SIGTERM starts ignored, as for PID 1, and the runner is
held before its work by a resource path that is a FIFO nobody writes.
"""

from __future__ import annotations

import os
import shlex
import signal
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
