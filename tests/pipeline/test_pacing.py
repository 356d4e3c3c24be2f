"""The spacing of one pod's status writes, adapted to the API server's answers."""

from __future__ import annotations

from reelkube.pipeline.pacing import WritePacer


def test_pacer_widens_the_spacing_under_pressure_and_eases_back() -> None:
    pacer = WritePacer(base=1.0, ceiling=8.0, slow_after=0.5)
    assert pacer.record(0.02) == 1.0  # quick answers keep one write a second
    assert [pacer.record(0.9) for _ in range(4)] == [2.0, 4.0, 8.0, 8.0]  # slow: doubled, capped
    assert [pacer.record(0.02) for _ in range(3)] == [7.5, 7.0, 6.5]  # quick: eased back
    assert pacer.record(0.01, throttled=True) == 8.0
    fresh = WritePacer()
    assert fresh.record(0.01, throttled=True, retry_after=3) == 3.0  # the server's Retry-After
    assert fresh.record(0.01, throttled=True, retry_after=60) == 8.0  # ...within the ceiling
    assert [fresh.record(0.0) for _ in range(20)][-1] == 1.0  # never below the base
