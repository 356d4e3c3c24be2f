"""SIGTERM becomes Canceled, on every path that runs a resource."""

from __future__ import annotations

import os
import signal
import time

import pytest

from reelkube.errors import Canceled
from reelkube.pipeline.cancel import sigterm_cancels


def test_sigterm_becomes_canceled() -> None:
    with pytest.raises(Canceled, match="SIGTERM"), sigterm_cancels():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
