"""The peak limiter (pure numpy) and the normalization's sample-exactness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelkube.speech.loudness import limit_peaks, normalize_loudness
from support.media import integrated_lufs, wav_frames


def test_limiter_caps_peaks_without_moving_or_touching_the_rest() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    signal = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    signal[11025] = 1.5  # one click far over the ceiling
    limited = limit_peaks(signal, 0.5, 110)
    assert len(limited) == len(signal)
    assert np.abs(limited).max() <= 0.5 + 1e-6
    assert int(np.argmax(np.abs(limited))) == 11025  # zero-phase: the peak stays where it was
    # Far from the click (more than two windows away) nothing changes.
    assert np.allclose(limited[:10000], signal[:10000]) and np.allclose(limited[12100:], signal[12100:])


@pytest.mark.parametrize("block", [997, 4096, 1 << 20])
def test_the_limiter_in_blocks_gives_the_samples_of_one_pass(block: int) -> None:
    rng = np.random.default_rng(3)
    signal = (0.3 * rng.standard_normal(30_000)).astype(np.float32)
    signal[[5, 996, 997, 998, 15_000, 29_999]] = [2.0, -3.0, 2.5, 1.9, 4.0, -2.2]  # peaks at the joins
    one_pass = limit_peaks(signal, 0.5, 110, gain=1.7, block=len(signal))
    blocked = limit_peaks(signal, 0.5, 110, gain=1.7, block=block)
    assert blocked.dtype == np.float32 and np.array_equal(blocked, one_pass)
    assert np.abs(blocked).max() <= 0.5 + 1e-6


@pytest.mark.slow  # normalizes and measures with ffmpeg
def test_normalization_keeps_every_sample_and_reaches_the_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rate = 22050
    # Speech-like: bursts of noise with sparse high peaks, 5 s.
    envelope = (np.sin(np.linspace(0, 30, 5 * rate)) > 0).astype(np.float32)
    samples = (0.05 * rng.standard_normal(5 * rate) * envelope).astype(np.float32)
    samples[::997] *= 12
    result = normalize_loudness(samples, rate, -16.0, tmp_path / "out.wav")
    assert wav_frames(tmp_path / "out.wav") == (len(samples), rate)
    assert abs(integrated_lufs(tmp_path / "out.wav") - (-16.0)) <= 0.5
    assert result.peak_dbfs <= -2.4
