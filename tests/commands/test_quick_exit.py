"""`reelkube render` and the other local commands exit without the interpreter's teardown, as
a normal exit would otherwise: same code, exit handlers run, output flushed, threads waited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from reelkube.cli import exit_now
marker = Path(sys.argv[1])
atexit.register(lambda: marker.write_text("handlers ran"))
print("unflushed", end="")
if sys.argv[2] == "thread":
    late = marker.with_suffix(".thread")
    threading.Thread(target=lambda: (time.sleep(0.3), late.write_text("done"))).start()
exit_now(3)
sys.exit(4)  # reached only when exit_now leaves the exit to the interpreter
"""


def run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    marker = tmp_path / f"{mode}.txt"
    return subprocess.run([sys.executable, "-c", SCRIPT, str(marker), mode], capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_exit_now_keeps_the_code_the_handlers_and_the_output(tmp_path: Path) -> None:
    done = run(tmp_path, "alone")
    assert (done.returncode, done.stdout) == (3, "unflushed")
    assert (tmp_path / "alone.txt").read_text() == "handlers ran"


def test_exit_now_leaves_a_running_thread_to_the_normal_exit(tmp_path: Path) -> None:
    done = run(tmp_path, "thread")
    assert (done.returncode, done.stdout) == (4, "unflushed")
    assert (tmp_path / "thread.thread").read_text() == "done"
    assert (tmp_path / "thread.txt").read_text() == "handlers ran"
