"""Speech benchmark (a script, not a test): Piper's real-time factor cold and warm, the whole
narration (synthesis + loudness) warm, and the narrated example end to end, with peak RSS.

    python tests/speech/bench_tts.py [--runs 3] [--json]

Real-time factor (RTF) = processing seconds / audio seconds (below 1 is faster than real time).
Cold runs in a new process and includes imports and the model load; warm reuses the loaded
voice. Peak RSS is the largest resident set of the measured process or any process it waited
for (ffmpeg included), from wait4().
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_150_WORDS = (
    "Every morning the harbour wakes up slowly, one light at a time. The bakers are first: by five "
    "o'clock the smell of bread drifts over the water, and the gulls gather on the roofs. At six the "
    "fishing boats come back, low in the water, their decks shining with the night's catch. Dr. Alvarez, "
    "who has run the market for 25 years, counts the crates as they are unloaded, about 1,000 on a good "
    "day. Prices are written in chalk on a long board, e.g. 3.50 for a kilo of sardines, and they change "
    "every hour. By eight the market is full of voices. Restaurant owners argue about quality, tourists "
    "take photos, and children run between the stalls. Then, just before noon, it is over. The boards are "
    "wiped clean, the crates are stacked, and the harbour goes quiet again... until tomorrow, when it all "
    "starts once more."
)

CHILD = """
import json, sys, time
started = time.monotonic()
from reelkube.api.ttsjob import VoiceSpec
from reelkube.speech.narration import narrate
from reelkube.speech.script import split_script
from reelkube.speech.synthesis import synthesize_narration
from reelkube.speech.voice import load_voice, locate_voice
from pathlib import Path
text, out = sys.argv[1], Path(sys.argv[2])
sentences = split_script(text)
imported = time.monotonic()
voice = load_voice(locate_voice(VoiceSpec()))
loaded = time.monotonic()
cold = synthesize_narration(voice, sentences, VoiceSpec())
cold_done = time.monotonic()
warm = synthesize_narration(voice, sentences, VoiceSpec())
warm_done = time.monotonic()
files = narrate(text, VoiceSpec(), out)
narrated = time.monotonic()
print(json.dumps({
    "words": len(text.split()), "sentences": len(sentences),
    "audio_seconds": cold.timings.duration,
    "import_seconds": imported - started, "load_seconds": loaded - imported,
    "cold_synthesis_seconds": cold_done - loaded, "cold_total_seconds": cold_done - started,
    "warm_synthesis_seconds": warm_done - cold_done,
    "warm_narration_seconds": narrated - warm_done, "narration_audio_seconds": files.duration,
    "word_timing_source": files.timings.word_timing_source, "lufs": files.loudness.output_lufs,
}))
"""


def run_measured(argv: list[str], cwd: Path) -> tuple[int, str, str, float, int]:
    """(exit code, stdout, stderr, wall seconds, peak RSS in KiB) of a child process."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(), err.read().decode(), wall, int(usage.ru_maxrss)


def bench_piper(runs: int) -> list[dict[str, Any]]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            code, out, err, wall, rss = run_measured(
                [sys.executable, "-c", CHILD, SCRIPT_150_WORDS, tmp], cwd=ROOT
            )
        if code != 0:
            raise SystemExit(f"piper bench failed:\n{err[-2000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        result.update(process_wall_seconds=wall, peak_rss_mib=rss / 1024)
        results.append(result)
    return results


def bench_narrated(runs: int) -> list[dict[str, Any]]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                sys.executable,
                "-m",
                "reelkube.cli",
                "render",
                "examples/narrated.yaml",
                "-o",
                tmp,
                "--json",
            ]
            code, out, err, wall, rss = run_measured(argv, cwd=ROOT)
        if code != 0:
            raise SystemExit(f"narrated render failed:\n{err[-2000:]}")
        summary = json.loads(out)
        results.append(
            {"wall_seconds": wall, "video_seconds": summary["duration"], "peak_rss_mib": rss / 1024}
        )
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the raw measurements as JSON")
    args = parser.parse_args()
    piper = bench_piper(args.runs)
    narrated = bench_narrated(args.runs)
    if args.json:
        print(json.dumps({"piper": piper, "narrated": narrated}, indent=2))
        return 0
    first = piper[0]
    audio = first["audio_seconds"]
    cold = median([r["cold_total_seconds"] for r in piper])
    cold_synth = median([r["cold_synthesis_seconds"] for r in piper])
    warm = median([r["warm_synthesis_seconds"] for r in piper])
    narration = median([r["warm_narration_seconds"] for r in piper])
    print(f"script: {first['words']} words, {first['sentences']} sentences, {audio:.1f} s of speech "
          f"(median of {args.runs} runs; {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"  cold, new process (imports {median([r['import_seconds'] for r in piper]):.2f} s + model load "
          f"{median([r['load_seconds'] for r in piper]):.2f} s + synthesis {cold_synth:.2f} s): "
          f"{cold:.2f} s  RTF {cold / audio:.3f} ({audio / cold:.1f}x real time)")  # fmt: skip
    print(f"  warm synthesis: {warm:.2f} s  RTF {warm / audio:.3f} ({audio / warm:.1f}x real time)")
    print(f"  warm narration incl. loudness normalization: {narration:.2f} s  RTF {narration / audio:.3f}")
    print(f"  peak RSS (whole child): {median([r['peak_rss_mib'] for r in piper]):.0f} MiB")
    wall = median([r["wall_seconds"] for r in narrated])
    print(f"narrated example end to end ({narrated[0]['video_seconds']:.1f} s of 1080x1920 video): "
          f"{wall:.2f} s wall, peak RSS {median([r['peak_rss_mib'] for r in narrated]):.0f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
