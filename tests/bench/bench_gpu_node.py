"""GPU-node benchmark: NVENC against libx264 for the 10 s captioned reel, and the fallback.

    python tests/bench/bench_gpu_node.py [--repeat 3] [--json FILE]

Run it on a machine with an NVIDIA GPU, the installed `reelkube` package and ffmpeg on PATH.
It does what a render pod with `spec.output.gpu: true` does, from the command line:

1. The one-frame NVENC probe the pipeline runs before a GPU encode (h264_nvenc, hevc_nvenc):
   None means NVENC works here; otherwise the cause ffmpeg gave.
2. The reel with `gpu: true, requireGpuEncoder: true`: renders with h264_nvenc, or fails with
   EncoderUnavailable and the cause (never a silent CPU encode).
3. The reel with `gpu: true` and the plain CPU reel, interleaved, medians of `--repeat`: wall time
   of the CLI end to end and the encoder the report names (``libx264 (fallback: ...)`` when NVENC
   does not work).
4. The floors on the same frames (the CPU render decoded once to raw yuv420p in /dev/shm):
   libx264 with the reel's settings and, when NVENC works, h264_nvenc with the settings
   `choose_encoder` gives a GPU render.

Prints one table; `--json` also writes every run.
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

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "captioned-reel.yaml"


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of one command, and its result."""
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    return time.perf_counter() - started, proc


def manifest_variant(root: Path, name: str, **output: bool) -> Path:
    """The example with extra `spec.output` fields, its background made absolute."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    props = doc["spec"]["props"]
    props["backgroundUrl"] = str((EXAMPLE.parent / props["backgroundUrl"]).resolve())
    doc["spec"]["output"].update(output)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def cli_render(manifest: Path, out: Path) -> dict[str, Any]:
    """`reelkube render MANIFEST --json` as a user runs it: wall time, encoder, or the error."""
    argv = [sys.executable, "-m", "reelkube.cli", "render", str(manifest), "-o", str(out), "--json"]
    wall, proc = timed(argv)
    row: dict[str, Any] = {"wall": round(wall, 3), "rc": proc.returncode}
    if proc.returncode == 0:
        report = json.loads(proc.stdout)
        video = report["outputs"]["video"]
        row.update(encoder=report.get("encoder"), size=video["size"], frames=report["frames"])
    else:
        row["error"] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    return row


def floors(video: Path, repeat: int, nvenc_works: bool) -> dict[str, list[float]]:
    """Encode-only wall times on the reel's own frames, read from raw YUV in memory."""
    from reelkube.api.output import OutputSpec
    from reelkube.engine.encoders import choose_encoder

    raw = Path("/dev/shm") / f"reelkube-bench-{os.getpid()}.yuv"
    decode = ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "yuv420p",
              str(raw)]  # fmt: skip
    subprocess.run(decode, check=True)
    source = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1080x1920",
              "-r", "30", "-i", str(raw)]  # fmt: skip
    settings = {"libx264": choose_encoder(OutputSpec()).video_args}
    if nvenc_works:
        settings["h264_nvenc"] = choose_encoder(OutputSpec(gpu=True)).video_args
    times: dict[str, list[float]] = {name: [] for name in settings}
    try:
        for _ in range(repeat):
            for name, args in settings.items():
                wall, proc = timed([*source, *args, "-f", "mp4", f"/dev/shm/reelkube-bench-{name}.mp4"])
                if proc.returncode != 0:
                    raise SystemExit(f"{name} floor failed: {proc.stderr[-2000:]}")
                times[name].append(round(wall, 3))
    finally:
        raw.unlink(missing_ok=True)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    from reelkube.engine.execute import probe_encoder

    results: dict[str, Any] = {"cores": os.cpu_count(), "load": os.getloadavg()[0]}
    results["probe"] = {encoder: probe_encoder(encoder) for encoder in ("h264_nvenc", "hevc_nvenc")}
    nvenc_works = results["probe"]["h264_nvenc"] is None
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        root = Path(tmp)
        cpu = manifest_variant(root, "cpu")
        gpu = manifest_variant(root, "gpu", gpu=True)
        strict = manifest_variant(root, "gpu-required", gpu=True, requireGpuEncoder=True)
        results["requireGpuEncoder"] = cli_render(strict, root / "strict")
        runs: dict[str, list[dict[str, Any]]] = {"cpu": [], "gpu": []}
        for i in range(args.repeat):  # interleaved, so a busy moment does not fall on one setting only
            for kind, manifest in (("cpu", cpu), ("gpu", gpu)):
                runs[kind].append(cli_render(manifest, root / f"{kind}-{i}"))
                if runs[kind][-1]["rc"] != 0:
                    raise SystemExit(f"{kind} render failed: {runs[kind][-1]['error']}")
        results["runs"] = runs
        results["floors"] = floors(root / "cpu-0" / "video.mp4", args.repeat, nvenc_works)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")

    print(f"\n{results['cores']} cores, load {results['load']:.2f}, medians of {args.repeat}")
    print(f"NVENC probe: {results['probe']}")
    strict_row = results["requireGpuEncoder"]
    print(f"gpu + requireGpuEncoder: {strict_row.get('encoder') or strict_row.get('error')}\n")
    floor = statistics.median(results["floors"]["libx264"])
    print("| 10 s reel | median wall (s) | vs x264 floor | encoder |")
    print("| --- | --- | --- | --- |")
    for kind, rows in runs.items():
        wall = statistics.median(r["wall"] for r in rows)
        print(f"| CLI, {kind} | {wall:.2f} | {wall / floor:.2f}x | {rows[0]['encoder']} |")
    for name, times in results["floors"].items():
        wall = statistics.median(times)
        print(f"| floor: {name} on raw frames | {wall:.2f} | {wall / floor:.2f}x | {name} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
