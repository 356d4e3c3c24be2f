"""SIGTERM becomes Canceled, on every path that runs a resource."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from reelkube.errors import Canceled
from reelkube.pipeline.cancel import stop_signals_cancel


def test_sigterm_becomes_canceled() -> None:
    with pytest.raises(Canceled, match="SIGTERM"), stop_signals_cancel():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


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
