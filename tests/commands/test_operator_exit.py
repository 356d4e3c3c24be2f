"""`reelkube operator` ends once kopf has stopped, even with a handler thread still running.

A sync handler left in kopf's executor (a blocked Kubernetes call) kept the interpreter waiting at
exit, so the operator pod idled until the kubelet's SIGKILL. Each case runs a real interpreter.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

PROGRAM = textwrap.dedent(
    """
    import logging, sys, threading, time
    from reelkube.commands.operator import exit_past_lingering_threads
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from concurrent.futures import ThreadPoolExecutor
    if sys.argv[1] == "lingering":
        threading.Thread(target=time.sleep, args=(120,), name="stuck-handler").start()
    pool = ThreadPoolExecutor(1, thread_name_prefix="executor")
    if sys.argv[1] == "busy-executor":
        pool.submit(time.sleep, 120)  # a handler that never returns
        time.sleep(0.2)
    else:
        pool.submit(time.sleep, 0).result()  # the worker ran a task and now waits for more
    threading.Thread(target=time.sleep, args=(120,), name="a-daemon", daemon=True).start()
    exit_past_lingering_threads()
    print("returned", flush=True)
    """
)


def run(case: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, case], capture_output=True, text=True, timeout=60, check=False
    )
    return time.monotonic() - started, proc


def test_a_lingering_handler_thread_does_not_hold_the_exit() -> None:
    took, proc = run("lingering")
    assert proc.returncode == 0, proc.stderr
    assert "event=exit_past_threads threads=stuck-handler" in proc.stderr
    assert "returned" not in proc.stdout  # it ended there, without waiting for the thread
    assert took < 30, took


def test_a_handler_still_running_in_an_executor_does_not_hold_the_exit() -> None:
    took, proc = run("busy-executor")
    assert proc.returncode == 0, proc.stderr
    assert "event=exit_past_threads threads=executor_0" in proc.stderr
    assert took < 30, took


def test_only_daemons_and_idle_executor_workers_left_returns_normally() -> None:
    took, proc = run("idle")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "returned"
    assert "exit_past_threads" not in proc.stderr
    assert took < 30, took  # the idle worker is told to stop at exit, as always


STANDBY = textwrap.dedent(
    """
    import logging, sys, time
    from reelkube.commands.operator import stop_on_sigterm
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with stop_on_sigterm():
        print("waiting", flush=True)
        time.sleep(120)  # election.acquire(): the Lease is held by another replica
    print("acquired", flush=True)
    """
)


def test_a_standby_waiting_for_the_lease_ends_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STANDBY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "waiting"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "acquired" not in out
    assert "event=standby_stopped signal=SIGTERM" in err
    assert time.monotonic() - started < 10
