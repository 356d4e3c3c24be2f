"""Loudness normalization to an EBU R128 target, and audio encoding.

Speech peaks about 20 dB above its loudness, so -16 LUFS under a -1.5 dBTP ceiling cannot be
reached by gain alone. ffmpeg's `loudnorm` then leaves linear mode for its dynamic mode, which
measured about 1.2 LU short of the target on narration here (-17.2 for -16). So the gain is
applied here, with a zero-phase look-ahead peak limiter (offline numpy, nothing moves in time),
and the result is measured with ffmpeg's R128 meter (`ebur128`); the gain is corrected by the
miss until it is within TOLERANCE_LU. Every step keeps every sample, so the timings stay exact.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelkube.api.ttsjob import AudioFormat
from reelkube.errors import RenderFailed

log = logging.getLogger(__name__)

TRUE_PEAK_DBTP = -1.5
LIMITER_MARGIN_DB = 1.0
"""The limiter's ceiling sits this far under the true-peak target: inter-sample peaks rise above
the samples."""
LIMITER_WINDOW_S = 0.005
TOLERANCE_LU = 0.2
MAX_PASSES = 5
LIMITER_BLOCK = 1 << 20
"""Samples the limiter works on at once (about 48 s at 22.05 kHz)."""
MAX_GAIN_DB = 40.0
"""Near-silent input is not lifted further than this (it would only raise the noise)."""

ENCODER_ARGS: dict[AudioFormat, list[str]] = {
    AudioFormat.WAV: ["-c:a", "pcm_s16le"],
    AudioFormat.MP3: ["-c:a", "libmp3lame", "-b:a", "128k"],
    # Opus runs at 48 kHz only; the speech is resampled with a good resampler.
    AudioFormat.OPUS: ["-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-af", "aresample=resampler=soxr"],
}
EXTENSIONS = {AudioFormat.WAV: "wav", AudioFormat.MP3: "mp3", AudioFormat.OPUS: "opus"}
CONTENT_TYPES = {AudioFormat.WAV: "audio/wav", AudioFormat.MP3: "audio/mpeg", AudioFormat.OPUS: "audio/ogg"}


@dataclass(frozen=True)
class LoudnessResult:
    input_lufs: float
    output_lufs: float
    gain_db: float
    peak_dbfs: float
    passes: int


def write_raw(samples: np.ndarray, path: Path) -> Path:
    """Float samples as raw little-endian f32 (what ffmpeg reads with `-f f32le`); f32 samples are
    written as they are, without a copy."""
    np.asarray(samples, dtype="<f4").tofile(path)
    return path


def normalize_loudness(
    samples: np.ndarray, sample_rate: int, target_lufs: float, out_wav: Path
) -> LoudnessResult:
    """Normalize mono float samples to `target_lufs` (peaks under TRUE_PEAK_DBTP less a margin)
    and write 16-bit WAV at the same rate with exactly as many samples."""
    raw = out_wav.with_suffix(".f32")
    input_lufs = measure_lufs(write_raw(samples, raw), sample_rate)
    ceiling = 10 ** ((TRUE_PEAK_DBTP - LIMITER_MARGIN_DB) / 20)
    window = max(1, round(sample_rate * LIMITER_WINDOW_S))
    output, output_lufs, gain_db, passes = samples, input_lufs, 0.0, 0
    if math.isfinite(input_lufs):  # silence cannot be normalized; it is kept as it is
        gain_db = min(MAX_GAIN_DB, target_lufs - input_lufs)
        previous = (0.0, input_lufs)
        while passes < MAX_PASSES:
            passes += 1
            output = samples  # let the previous pass's track go before the next one is made
            output = limit_peaks(samples, ceiling, window, gain=10 ** (gain_db / 20))
            output_lufs = measure_lufs(write_raw(output, raw), sample_rate)
            miss = target_lufs - output_lufs
            if abs(miss) <= TOLERANCE_LU:
                break
            # Secant step: the limiter eats part of any added gain, so the loudness moves by
            # less than 1 LU per dB; the last two passes tell by how much.
            slope = (output_lufs - previous[1]) / (gain_db - previous[0]) if gain_db != previous[0] else 1.0
            previous = (gain_db, output_lufs)
            next_gain = min(MAX_GAIN_DB, gain_db + miss / min(1.0, max(slope, 0.2)))
            if next_gain == gain_db:  # at the gain cap: nothing more to try
                break
            gain_db = next_gain
    _ffmpeg([*_raw_input(raw, sample_rate), "-c:a", "pcm_s16le", str(out_wav)])
    raw.unlink()
    result = LoudnessResult(
        input_lufs=input_lufs,
        output_lufs=output_lufs,
        gain_db=gain_db,
        peak_dbfs=20 * math.log10(max(_magnitude_range(output)[0], 1e-9)),
        passes=passes,
    )
    log.info(
        "event=loudness_normalized input_lufs=%.2f output_lufs=%.2f gain_db=%.2f peak_dbfs=%.2f passes=%d",
        result.input_lufs,
        result.output_lufs,
        result.gain_db,
        result.peak_dbfs,
        result.passes,
    )
    return result


def measure_lufs(raw: Path, sample_rate: int) -> float:
    """Integrated loudness (EBU R128, LUFS) of raw f32 mono samples, by ffmpeg's `ebur128`;
    -inf for silence."""
    stderr = _ffmpeg([*_raw_input(raw, sample_rate), "-af", "ebur128", "-f", "null", "-"])
    summary = stderr[stderr.rfind("Summary:") :]
    match = re.search(r"I:\s*(-?[0-9.]+|-inf|nan)\s*LUFS", summary)
    if match is None:
        raise RenderFailed("ffmpeg ebur128 printed no integrated loudness: " + stderr[-300:])
    value = float(match.group(1))
    # ebur128 reports -70 (its floor) for silence or near-silence.
    return value if value > -70.0 else float("-inf")


def limit_peaks(
    samples: np.ndarray, ceiling: float, window: int, *, gain: float = 1.0, block: int = LIMITER_BLOCK
) -> np.ndarray:
    """Keep |samples * gain| at most `ceiling` with a smooth gain: the gain each sample needs, its
    minimum over +-window, then a moving average over window (every averaged value is at most
    the gain needed at the centre, so no peak passes; the ramps are `window` long). Offline and
    zero-phase: nothing moves in time.

    Worked in blocks of `block` samples, each read with 2 * window + 1 samples of context on
    either side (the reach of the minimum plus the average), so every output sample is the one a
    single pass over the whole track gives, and memory stays at a few copies of one block however
    long the narration is (45 minutes of speech held five float64 copies of the track: 4 GiB)."""
    loudest, quietest = _magnitude_range(samples, block)
    if loudest * gain <= ceiling:
        return (samples * gain).astype(np.float32)
    # The largest gain any sample needs (1.0 unless every sample is over the ceiling): the
    # smoothed gain never exceeds it.
    cap = min(1.0, ceiling / max(quietest * gain, 1e-12))
    reach = 2 * window + 1
    out = np.empty(len(samples), dtype=np.float32)
    for start in range(0, len(samples), block):
        stop = min(len(samples), start + block)
        lo, hi = max(0, start - reach), min(len(samples), stop + reach)
        limited = _limit_block(samples[lo:hi] * gain, ceiling, window, cap)
        out[start:stop] = limited[start - lo : stop - lo]
    return out


def _magnitude_range(samples: np.ndarray, block: int = LIMITER_BLOCK) -> tuple[float, float]:
    """The largest and the smallest |sample|, a block at a time (no copy of the whole track)."""
    loudest, quietest = 0.0, math.inf
    for start in range(0, len(samples), block):
        part = np.abs(samples[start : start + block])
        loudest, quietest = max(loudest, float(part.max())), min(quietest, float(part.min()))
    return loudest, (quietest if math.isfinite(quietest) else 0.0)


def _limit_block(scaled: np.ndarray, ceiling: float, window: int, cap: float) -> np.ndarray:
    magnitude = np.abs(scaled).astype(np.float64)
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    floor = _sliding_min(needed, window)
    kernel = np.ones(window) / window
    smooth = np.convolve(np.pad(floor, (window // 2, window - 1 - window // 2), mode="edge"), kernel, "valid")
    return (scaled * np.minimum(smooth, cap)).astype(np.float32)


def _sliding_min(values: np.ndarray, radius: int) -> np.ndarray:
    """Minimum over [i - radius, i + radius] for every i, in O(n log radius)."""
    result = values.copy()
    span = 1
    # Doubling: after the loop each value is the minimum of a window of `reach` on either side.
    reach = 0
    while reach < radius:
        step = min(span, radius - reach)
        shifted_left = np.concatenate([result[step:], np.full(step, np.inf)])
        shifted_right = np.concatenate([np.full(step, np.inf), result[:-step]])
        result = np.minimum(result, np.minimum(shifted_left, shifted_right))
        reach += step
        span *= 2
    return result


def encode(wav: Path, audio_format: AudioFormat, out: Path) -> Path:
    """Encode the normalized WAV as `audio_format` (copying it for wav)."""
    if audio_format == AudioFormat.WAV:
        if wav.resolve() != out.resolve():
            shutil.copyfile(wav, out)
        return out
    _ffmpeg(["-i", str(wav), *ENCODER_ARGS[audio_format], str(out)])
    return out


def _raw_input(raw: Path, sample_rate: int) -> list[str]:
    return ["-f", "f32le", "-ar", str(sample_rate), "-ch_layout", "mono", "-i", str(raw)]


def _ffmpeg(args: list[str]) -> str:
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-8:])
        raise RenderFailed(f"ffmpeg failed ({result.returncode}): {tail}")
    return result.stderr
