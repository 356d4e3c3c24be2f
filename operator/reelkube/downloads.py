"""Writing a download to disk within a size and a time bound: the loop HTTP and S3 inputs share."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from reelkube.errors import InputTimeout, InputTooLarge


def write_bounded(
    chunks: Iterable[bytes], part: Path, *, source: str, max_bytes: int, deadline: float, timeout: float
) -> int:
    """Write ``chunks`` to ``part`` as they arrive; the bytes written.

    Raises InputTooLarge past ``max_bytes`` (a declared size may be wrong or stale, so the bytes
    themselves are counted) and InputTimeout once ``time.monotonic()`` passes ``deadline`` (a
    slow trickle times out too; ``timeout`` is only named in the message).
    """
    written = 0
    with part.open("wb") as sink:
        for chunk in chunks:
            written += len(chunk)
            if written > max_bytes:
                raise InputTooLarge(f"{source} is over the limit of {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise InputTimeout(f"{source} took longer than {timeout:g}s to download")
            sink.write(chunk)
    return written
