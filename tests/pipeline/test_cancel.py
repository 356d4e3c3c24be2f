"""SIGTERM becomes Canceled, on every path that runs a resource, and the tools the render started
are killed at once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from reelkube.errors import Canceled
from reelkube.pipeline.cancel import child_pids, stop_signals_cancel


def test_sigterm_becomes_canceled() -> None:
    with pytest.raises(Canceled, match="SIGTERM"), stop_signals_cancel():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_no_except_exception_inside_the_block_swallows_the_stop() -> None:
    # A fallback such as "font unreadable: estimate its size" must not eat the stop, nor a
    # library turn it into an error of its own.
    went_on = []
    with pytest.raises(Canceled, match="SIGTERM"), stop_signals_cancel():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler
        except Exception:  # noqa: BLE001 - the catch-all under test
            went_on.append("swallowed")
        went_on.append("rendered on")
    assert went_on == []


def test_ctrl_c_becomes_canceled_and_a_second_signal_is_ignored() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Canceled, match="SIGINT"), stop_signals_cancel():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # interrupted by the handler
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # during cleanup: ignored, not a second raise
            time.sleep(0.1)
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_no_handler_is_set() -> None:
    seen: list[object] = []

    def run() -> None:
        with stop_signals_cancel():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [signal.SIG_DFL]


def test_the_stop_kills_the_tools_started_in_the_block_and_spares_earlier_children() -> None:
    # Real processes: an earlier child (a test's server, say) and a tool in a session of its own
    # with a child of its own, as the engine starts ffmpeg.
    earlier = subprocess.Popen(["sleep", "60"])
    tool = None
    try:
        with pytest.raises(Canceled), stop_signals_cancel():
            tool = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
            time.sleep(0.2)  # its own child is up
            grandchildren = child_pids(tool.pid)
            assert grandchildren, "the tool's own child did not start"
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler
        # SIGKILL, not a polite SIGTERM that a busy encoder answers by flushing for seconds.
        assert tool.wait(timeout=5) == -signal.SIGKILL
        assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in grandchildren)
        assert earlier.poll() is None, "a child from before the block was killed"
    finally:
        for proc in (earlier, tool):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits to be reaped (its parent, ``sh``, is gone too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_child_pids_reads_the_process_table() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert child.pid in child_pids(os.getpid())
        assert child_pids(child.pid) == []
    finally:
        child.kill()
        child.wait()
    assert child.pid not in child_pids(os.getpid())
