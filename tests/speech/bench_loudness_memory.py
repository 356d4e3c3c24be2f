"""Peak memory of the loudness step on a long narration (a script, not a CI test).

    python3 tests/speech/bench_loudness_memory.py [--minutes 45]

Normalizes a speech-like track (noise bursts with sparse peaks, 22.05 kHz mono float32, as
Piper gives) of ``--minutes`` minutes in a fresh process and prints that process's peak RSS and
the track's own size: what the loudness step adds on top of the samples it is handed.

Measured here (2 cores, 2026-11-30), 45 minutes of speech (227 MiB of samples, the length of a
50,000-character script), process RSS 294 MiB before normalizing: peak 573 MiB with the limiter
working in blocks, 3,927 MiB with the earlier whole-track limiter (five float64 copies).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

CHILD = """
import resource, sys, time
from pathlib import Path
import numpy as np
from reelkube.speech.loudness import normalize_loudness
rate, minutes = 22050, float(sys.argv[1])
n = int(rate * 60 * minutes)
rng = np.random.default_rng(7)
samples = np.empty(n, dtype=np.float32)
for start in range(0, n, 1 << 20):  # made in blocks, so the base RSS is the track itself
    stop = min(n, start + (1 << 20))
    burst = np.sin(np.arange(start, stop) * (30 / (5 * rate))) > 0
    samples[start:stop] = 0.05 * rng.standard_normal(stop - start, dtype=np.float32) * burst
samples[::997] *= 12
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
result = normalize_loudness(samples, rate, -16.0, Path(sys.argv[2]) / "out.wav")
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic() - started, result.passes)
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=45.0, help="length of the track (default 45)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.minutes), tmp], capture_output=True, text=True, check=False
        )
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return 1
    base_kib, peak_kib, seconds, passes = out.stdout.split()
    track_mib = 22050 * 60 * args.minutes * 4 / 2**20
    print(
        json.dumps(
            {
                "minutes": args.minutes,
                "track_mib": round(track_mib),
                "rss_before_normalizing_mib": round(int(base_kib) / 1024),
                "peak_rss_mib": round(int(peak_kib) / 1024),
                "seconds": round(float(seconds), 1),
                "passes": int(passes),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
