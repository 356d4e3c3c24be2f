"""Explainer benchmark: a 150-word script as an explainer at 1080x1920 (about a minute of video).

    python tests/scenes/bench_explainer.py [--keep DIR] [--workers auto|N]

Measures, each in its own child process (`reelkube render` and `reelkube storyboard`):
- end-to-end wall time of the render (Piper, planning, contact sheet, ffmpeg), and as a multiple
  of the video's duration;
- peak memory: the largest resident set of the process tree summed over its processes, sampled
  every 50 ms from /proc (the python process and the ffmpeg it runs together), and ru_maxrss of
  the largest single process so far (the render runs last, so its figure is the render's);
- the wall time of `reelkube storyboard` for the same brief (measured speech, and --estimate);
- CPU seconds of each run (its whole process tree): on a shared machine the wall time grows with
  the load, CPU time much less, so both are printed, with the load average before the runs.

Prints one JSON object. Linux only (reads /proc).

Measured on the project's 2-core machine (150 words -> 12 scenes, about 59.2 s of 1080x1920
video), with the load average printed before each run:
- session 6, load 0.72: `--workers 1` 45.2 s wall (0.76x the video's duration), 66.9 CPU s,
  peak 1,366 MiB for the process tree (1,118 MiB in a second sampling: python with Piper loaded
  447 MiB beside ffmpeg 671 MiB), 672 MiB the largest process; `reelkube storyboard` 6.6 s with
  Piper measuring the speech, 3.2 s with --estimate.
- session 6, load 1.34: `--workers auto` (two windows at once, two ffmpeg) 48.9 s (0.82x), 73.7
  CPU s, peak 1,454 MiB (both ffmpeg processes at once); storyboard 9.0 s, 3.3 s estimated. Two
  windows on two cores gain nothing here.
- session 6, load 8.7: `--workers 1` 76.2 s (1.29x), 67.3 CPU s; storyboard 25.3 s, 4.9 s.
- session 3, load 8-10: 92.6 s (1.56x), 80.0 CPU s, peak 1,113 MiB; storyboard 15.4 s, 5.4 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SCRIPT = """\
Every morning the sun rises over the desert and pours more energy onto the sand in one hour than
the whole world uses in a year. Capturing even a small share of it could change how we live.

Along the coast, the ocean never rests. Waves and tides move enormous amounts of water, and the
wind that crosses the sea blows day and night. Engineers are learning to turn that motion into
electricity.

In the city, lights glow long after dark. Every building, street and screen draws on the grid,
and demand rises and falls through the day.

Tomorrow's grid will be smarter. Software will balance supply and demand every second, storing
the surplus of sunny afternoons for the evening peak. Forests and mountains will stay wild while
clean power flows quietly through the cables beneath them. The future of energy starts with the
small choices we all make today.
"""


def manifest() -> dict[str, Any]:
    """The benchmark's RenderJob: the explainer in portrait at 1080x1920."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "bench-explainer"},
        "spec": {
            "template": "explainer",
            "props": {
                "title": "Where our energy comes from",
                "script": SCRIPT,
                "orientation": "portrait",
                "library": {"indexUrl": str(EXAMPLES / "assets" / "library" / "index.yaml")},
                "style": {"musicUrl": str(EXAMPLES / "assets" / "music.m4a"), "musicVolume": 0.12},
            },
            "output": {"format": "mp4", "codec": "h264", "preset": "veryfast", "crf": 23,
                       "width": 1080, "height": 1920},
        },
    }  # fmt: skip


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def timed(command: list[str]) -> dict[str, float]:
    """Run `command`; its wall time, the peak summed RSS of its tree, and its largest ru_maxrss."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wallSeconds": round(wall, 2), "cpuSeconds": round(cpu, 2), "peakTreeMiB": round(peak / 2**20, 1),
            "largestProcessMiB": round(after.ru_maxrss / 1024, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    parser.add_argument(
        "--workers",
        default="auto",
        help="reelkube render --workers (auto: two windows at once on two cores; 1: one ffmpeg, as "
        "in a render pod, where a scene-based template always renders in one pod)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-explainer-"))
    load = [round(x, 2) for x in os.getloadavg()]
    job = work / "bench-explainer.json"
    job.write_text(json.dumps(manifest()))
    reelkube = [sys.executable, "-m", "reelkube.cli"]
    board = timed([*reelkube, "storyboard", str(job), "-o", str(work / "storyboard")])
    estimate = timed([*reelkube, "storyboard", str(job), "-o", str(work / "estimate"), "--estimate"])
    render = timed([*reelkube, "render", str(job), "-o", str(work / "render"), "--workers", args.workers])
    storyboard = json.loads((work / "render" / "storyboard.json").read_text())
    duration = storyboard["duration"]
    words = len(SCRIPT.split())
    figures = {
        "words": words,
        "scenes": len(storyboard["scenes"]),
        "videoSeconds": duration,
        "size": "1080x1920",
        "render": render
        | {"workers": args.workers, "wallPerVideoSecond": round(render["wallSeconds"] / duration, 2)},
        "storyboard": board,
        "storyboardEstimated": estimate,
        "cpus": os.cpu_count(),
        "loadAverageBefore": load,
    }
    print(json.dumps(figures, indent=1))
    if args.keep:
        shutil.copytree(work, args.keep, dirs_exist_ok=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
