"""How often one pod writes its resource's status: every second while the API server keeps up,
less often while it does not.

Every render pod writes its own status (see :mod:`reelkube.pipeline.status_reporter`), so 1,000
concurrent renders offer up to 1,000 writes a second. The API server's cost per custom-resource
status patch is fixed (about 7-8 ms of CPU on the 2-core test cluster, so it takes about 190 a
second there), and when the offered writes pass what it can take, queueing in API Priority and
Fairness makes every write late and then rejected (429) without making any of them useful.

So each pod paces itself on the answers it gets (additive decrease, multiplicative increase of
the spacing, as TCP does with its window): an answer slower than ``slow_after`` or a 429 doubles
the spacing, up to ``ceiling`` (and never below the server's ``Retry-After``); each quick answer
takes ``base / 2`` off it, down to ``base``. Many pods together settle near what the server can
take, with answers that stay quick; a single pod on a quiet cluster keeps writing once a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WritePacer:
    """The spacing between one resource's status writes, adapted to the API server's answers."""

    base: float = 1.0
    """Spacing while the API server answers quickly (and the least it ever is)."""
    ceiling: float = 8.0
    """The most the spacing grows to under pressure."""
    slow_after: float = 0.5
    """An answer slower than this counts as pressure."""
    interval: float = field(init=False)
    """The spacing to wait before the next write."""

    def __post_init__(self) -> None:
        self.interval = self.base

    def record(self, latency: float, *, throttled: bool = False, retry_after: float = 0.0) -> float:
        """Take one write's outcome into account; the new spacing.

        ``throttled``: the write was refused for load (429) or failed without an answer;
        ``retry_after``: the server's ``Retry-After`` in seconds, if it sent one.
        """
        if throttled or latency > self.slow_after:
            self.interval = min(self.ceiling, max(self.interval * 2, self.base, retry_after))
        else:
            self.interval = max(self.base, self.interval - self.base / 2)
        return self.interval
