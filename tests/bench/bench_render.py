"""Render benchmark: the 10 s captioned reel, against the x264 floor and against MoviePy 2.

    python tests/bench/bench_render.py [--repeat N] [--keep DIR]

Prints one table. Each measured run is its own child process, so peak RSS (ru_maxrss of the
python process and, separately, of the largest ffmpeg it waited for) belongs to that run alone.

- Reelkube: `render_job()` on examples/captioned-reel.yaml (wall time around the call).
- Reelkube CLI: the installed `reelkube render examples/captioned-reel.yaml` as a user runs it,
  end to end: interpreter start, imports, manifest validation, probes, the encode and the
  thumbnail. Its two ends are timed too: from the start to the render's ffmpeg (the one with a
  filter graph), and from that ffmpeg's exit to the program's; an `ffmpeg` on PATH that notes
  the time (bash's $EPOCHREALTIME, no extra process) and runs /usr/bin/ffmpeg tells when. Both
  packages are byte-compiled first (`compileall`, as `pip install` does: a session that sets
  PYTHONDONTWRITEBYTECODE would otherwise compile every module from source in every run).
- CLI start: the installed `reelkube render --help`: interpreter start and the imports of the
  command, which every `reelkube render` pays before it reads the manifest.
- x264 floor: Reelkube's own output decoded once to raw yuv420p (in /dev/shm), then timed while
  re-encoding those frames with the same x264 settings (preset, CRF, pixel format, faststart,
  and x264's own thread count in both): no composition can be faster.
- MoviePy 2: the same composition (image, zoom, tint, two text lines fading in, the title sliding)
  built from the template's own timeline, written with Debian's ffmpeg and the same x264 settings.

Targets: Reelkube within 1.5x of the floor, the CLI end to end within 1.2x, and at least 5x
faster than MoviePy. Each figure is the median of `--repeat` runs (default 3).
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
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "examples" / "captioned-reel.yaml"
FFMPEG = "/usr/bin/ffmpeg"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FLOOR_TARGET = 1.5
CLI_TARGET = 1.2
MOVIEPY_TARGET = 5.0


def cpu_seconds() -> float:
    """User + system CPU of this process and of every child it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def usage_since(started: float, cpu_before: float) -> dict[str, float]:
    """Wall and CPU seconds since `started`, and peak RSS in MiB of this process and of the
    largest child it has waited for (ru_maxrss is in KiB on Linux)."""
    return {
        "wall": time.perf_counter() - started,
        "cpu": cpu_seconds() - cpu_before,
        "python_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ffmpeg_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def child_reelkube(out_dir: Path) -> dict[str, Any]:
    """(In a child process) render the example with the engine; report wall time and peak RSS."""
    from reelkube.api import RenderJob
    from reelkube.manifest import load_manifest
    from reelkube.pipeline.render_job import render_job

    job = load_manifest(MANIFEST)
    assert isinstance(job, RenderJob)
    started, cpu_before = time.perf_counter(), cpu_seconds()
    result = render_job(job, out_dir, base_dir=MANIFEST.parent, on_progress=lambda _event: None)
    return {"output": str(result.outputs["video"].path), **usage_since(started, cpu_before)}


def child_moviepy(out_dir: Path) -> dict[str, Any]:
    """(In a child process) the same composition in MoviePy 2, laid out from the template's timeline."""
    os.environ["FFMPEG_BINARY"] = FFMPEG  # MoviePy would otherwise use imageio's bundled ffmpeg
    os.environ["IMAGEIO_FFMPEG_EXE"] = FFMPEG
    import yaml
    from moviepy import ColorClip, CompositeVideoClip, ImageClip, TextClip, vfx

    from reelkube.api import RenderJob
    from reelkube.api.timeline import ColorClip as TintLayer
    from reelkube.api.timeline import ImageClip as ImageLayer
    from reelkube.templates import TemplateContext, expand_template

    job = RenderJob.model_validate(yaml.safe_load(MANIFEST.read_text()))
    context = TemplateContext(output=job.spec.output, workdir=out_dir)
    timeline = expand_template(str(job.spec.template), job.spec.props, context).timeline
    layers = {track.name: track.clips[0] for track in timeline.tracks}
    width, height, fps = timeline.width, timeline.height, timeline.fps
    duration = float(timeline.duration or 0)
    background, overlay, title, subtitle = (layers[n] for n in ("background", "overlay", "title", "subtitle"))
    assert isinstance(background, ImageLayer) and background.kenBurns is not None
    assert isinstance(overlay, TintLayer)

    started, cpu_before = time.perf_counter(), cpu_seconds()
    zoom_end = background.kenBurns.zoomEnd

    def zoom(t: float) -> float:
        return 1 + (zoom_end - 1) * t / duration

    image = ImageClip(str(MANIFEST.parent / background.src)).resized((width, height)).with_duration(duration)
    image = image.with_effects([vfx.Resize(zoom)])
    image = image.with_position(lambda t: ((width - width * zoom(t)) / 2, (height - height * zoom(t)) / 2))
    red, green, blue = (int(overlay.color[i : i + 2], 16) for i in (1, 3, 5))
    tint = ColorClip((width, height), color=(red, green, blue), duration=duration)
    tint = tint.with_opacity(overlay.opacity)

    def text_layer(clip: Any, font: str) -> Any:
        # The vertical margin keeps MoviePy's label from clipping descenders.
        text = TextClip(
            font=font,
            text=clip.text,
            font_size=clip.fontSize,
            color=clip.color,
            method="label",
            margin=(0, clip.fontSize // 3),
        )
        text_height = text.size[1]
        base_y = (height - text_height) / 2 + clip.offsetY
        slide = clip.slide

        def position(t: float) -> tuple[float, float]:
            lift = slide.distance * max(0.0, 1 - t / slide.duration) if slide else 0.0
            return ((width - text.size[0]) / 2, base_y + lift)

        text = text.with_start(clip.start).with_duration(clip.duration).with_position(position)
        return text.with_effects([vfx.CrossFadeIn(clip.fadeIn)])

    composition = CompositeVideoClip(
        [image, tint, text_layer(title, FONT_BOLD), text_layer(subtitle, FONT_REGULAR)], size=(width, height)
    ).with_duration(duration)
    output = out_dir / "moviepy.mp4"
    composition.write_videofile(
        str(output),
        fps=fps,
        codec="libx264",
        preset=job.spec.output.preset.value,
        ffmpeg_params=["-crf", str(job.spec.output.crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        audio=False,
        logger=None,
    )
    return {"output": str(output), **usage_since(started, cpu_before)}


def code_env(code: Path | None) -> dict[str, str] | None:
    """The environment that runs the reelkube package in ``code`` (a folder holding an older
    version's ``reelkube`` package, e.g. ``git archive`` of a commit's operator/), None for this
    checkout's."""
    return None if code is None else {**os.environ, "PYTHONPATH": str(code)}


def byte_compile(code: Path | None) -> None:
    """Write the package's .pyc files, as installing it does."""
    import compileall

    package = (code if code is not None else REPO / "operator") / "reelkube"
    if not compileall.compile_dir(str(package), quiet=1):
        raise SystemExit(f"cannot byte-compile {package}")


PHASE_SHIM = """#!/bin/bash
# bench_render.py: note when the render's ffmpeg (the one with a filter graph) starts and ends.
if [[ " $* " != *" -filter_complex "* ]]; then exec {ffmpeg} "$@"; fi
echo "start $EPOCHREALTIME" >> "$REELKUBE_BENCH_PHASES"
{ffmpeg} "$@"
status=$?
echo "end $EPOCHREALTIME" >> "$REELKUBE_BENCH_PHASES"
exit $status
"""


def phase_shim(work: Path) -> Path:
    """A folder holding an ``ffmpeg`` that notes the render's start and end (see PHASE_SHIM)."""
    folder = work / "shim"
    folder.mkdir(exist_ok=True)
    shim = folder / "ffmpeg"
    shim.write_text(PHASE_SHIM.format(ffmpeg=FFMPEG))
    shim.chmod(0o755)
    return folder


def run_child(kind: str, out_dir: Path, code: Path | None = None) -> dict[str, Any]:
    """Run this script as `--child KIND` and read back its JSON report (last stdout line)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--child", kind, "--out", str(out_dir)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=code_env(code))
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def installed_reelkube() -> str:
    """The `reelkube` program installed beside this Python (its virtual environment's), else the
    one on PATH."""
    beside = Path(sys.executable).parent / "reelkube"
    found = str(beside) if beside.is_file() else shutil.which("reelkube")
    if found is None:
        raise SystemExit("the reelkube program is not installed (pip install -e .)")
    return found


def measure_start(code: Path | None = None) -> dict[str, Any]:
    """Time `reelkube render --help`: the interpreter's start and the command's imports."""
    command = [installed_reelkube(), "render", "--help"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, env=code_env(code))
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("reelkube render --help failed")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "python_mib": usage.ru_maxrss / 1024,
            "ffmpeg_mib": 0.0}  # fmt: skip


def measure_cli(out_dir: Path, shim: Path, code: Path | None = None) -> dict[str, Any]:
    """Time `reelkube render` of the example as a user runs it, from process start to exit, and
    its two ends: start to the render's ffmpeg, that ffmpeg's exit to the program's."""
    command = [installed_reelkube(), "render", str(MANIFEST), "-o", str(out_dir)]
    phases = out_dir.with_name(out_dir.name + ".phases")
    env = {**(code_env(code) or os.environ), "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
           "REELKUBE_BENCH_PHASES": str(phases)}  # fmt: skip
    started, started_at = time.perf_counter(), time.time()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall, ended_at = time.perf_counter() - started, time.time()
    if os.waitstatus_to_exitcode(status) != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"reelkube render failed:\n{stderr[-3000:]}")
    marks = dict(line.split() for line in phases.read_text().splitlines())
    # ru_maxrss of a waited-for child covers the largest of it and its own children: ffmpeg.
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "python_mib": None,
            "ffmpeg_mib": usage.ru_maxrss / 1024, "to_ffmpeg": float(marks["start"]) - started_at,
            "after_ffmpeg": ended_at - float(marks["end"])}  # fmt: skip


def measure_floor(video: Path, work: Path) -> dict[str, Any]:
    """Decode `video` to raw frames once, then time x264 re-encoding them with the same settings."""
    import yaml

    output_spec = yaml.safe_load(MANIFEST.read_text())["spec"].get("output", {})
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json",
         "-show_entries", "stream=width,height,r_frame_rate", str(video)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    raw = work / "frames.yuv"
    decode = ["-f", "rawvideo", "-pix_fmt", "yuv420p", str(raw)]
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(video), *decode], check=True)
    command = [
        FFMPEG, "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{stream['width']}x{stream['height']}",
        "-r", stream["r_frame_rate"], "-i", str(raw),
        "-c:v", "libx264", "-preset", str(output_spec.get("preset", "veryfast")),
        "-crf", str(output_spec.get("crf", 23)), "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        str(work / "floor.mp4"),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    raw.unlink()
    if process.returncode != 0:
        raise SystemExit("x264 floor encode failed")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "python_mib": None, "ffmpeg_mib": usage.ru_maxrss / 1024}


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run["wall"])[(len(runs) - 1) // 2]


def rss_cell(run: dict[str, Any]) -> str:
    if not run["ffmpeg_mib"]:
        return f"py {run['python_mib']:.0f}"
    if run["python_mib"] is None:
        return f"ffmpeg {run['ffmpeg_mib']:.0f}"
    python, ffmpeg = run["python_mib"], run["ffmpeg_mib"]
    return f"{python + ffmpeg:.0f} (py {python:.0f} + ffmpeg {ffmpeg:.0f})"


def phase_cell(run: dict[str, Any], key: str) -> str:
    """A CLI run's end, as the median of the rounds (``key`` + "s" holds every round's)."""
    values = run.get(key + "s")
    if not values:
        return ""
    ordered = sorted(values)
    return f"{ordered[(len(ordered) - 1) // 2]:.2f} ({min(values):.2f}-{max(values):.2f})"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def print_table(
    reelkube: dict[str, Any],
    cli: dict[str, Any],
    start: dict[str, Any],
    floor: dict[str, Any],
    moviepy: dict[str, Any] | None,
    load: tuple[float, float],
    baseline: dict[str, dict[str, Any]],
) -> bool:
    """Print the one result table; True when every target is met."""
    floor_ratio = reelkube["wall"] / floor["wall"]
    cli_ratio = cli["wall"] / floor["wall"]
    start_ratio = start["wall"] / floor["wall"]
    rows = [
        ("CLI start (reelkube render --help)", start, f"{start_ratio:.2f}x floor", "", None),
        ("Reelkube (render_job)", reelkube, f"{floor_ratio:.2f}x floor", f"<= {FLOOR_TARGET}x floor",
         floor_ratio <= FLOOR_TARGET),
        ("Reelkube CLI (reelkube render, end to end)", cli, f"{cli_ratio:.2f}x floor",
         f"<= {CLI_TARGET}x floor", cli_ratio <= CLI_TARGET),
        ("x264 floor (raw YUV -> x264)", floor, "1.00x floor", "", None),
    ]  # fmt: skip
    for name, label in (
        ("start", "CLI start"),
        ("reelkube", "Reelkube (render_job)"),
        ("cli", "Reelkube CLI"),
    ):
        if name in baseline:
            ratio = baseline[name]["wall"] / floor["wall"]
            rows.append((f"baseline: {label}", baseline[name], f"{ratio:.2f}x floor", "", None))
    if moviepy is not None:
        speedup = moviepy["wall"] / reelkube["wall"]
        ratio = f"MoviePy/Reelkube {speedup:.1f}x"
        rows.append(("MoviePy 2", moviepy, ratio, f">= {MOVIEPY_TARGET}x", speedup >= MOVIEPY_TARGET))
    header = ("run", "wall s", "to ffmpeg s", "after ffmpeg s", "CPU s", "peak RSS MiB", "ratio", "target",
              "result")  # fmt: skip
    lines = [header] + [
        (name, f"{run['wall']:.2f}", phase_cell(run, "to_ffmpeg"), phase_cell(run, "after_ffmpeg"),
         f"{run['cpu']:.2f}", rss_cell(run), ratio, target, verdict(ok))
        for name, run, ratio, target, ok in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(
        f"captioned reel, 1080x1920, 300 frames, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} at the start, {load[1]:.2f} at the end"
    )
    for number, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return all(ok for *_rest, ok in rows if ok is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median counts")
    parser.add_argument("--skip-moviepy", action="store_true", help="leave out the (slow) MoviePy run")
    parser.add_argument("--keep", type=Path, help="keep the rendered files in this directory")
    parser.add_argument(
        "--baseline",
        type=Path,
        help=(
            "also measure the reelkube package in this folder (an older version, e.g. "
            "`git archive COMMIT operator | tar -x -C DIR`, then DIR/operator), in the same rounds"
        ),
    )
    parser.add_argument("--child", choices=["reelkube", "moviepy"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report = (child_reelkube if args.child == "reelkube" else child_moviepy)(args.out)
        print(json.dumps(report))
        return 0

    # Raw 1080x1920 frames take about 1 GB: keep them in memory where /dev/shm exists.
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="reelkube-bench-", dir=scratch))
    load_at_start = os.getloadavg()[0]
    byte_compile(None)
    if args.baseline:
        byte_compile(args.baseline)
    shim = phase_shim(work)
    try:
        # One round of each measurement at a time, so that a change in the machine's load
        # falls on every row alike rather than on whichever ran then.
        names = ["reelkube", "cli", "start", "floor"] + (
            ["base reelkube", "base cli", "base start"] if args.baseline else []
        )
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for number in range(args.repeat):
            rounds["reelkube"].append(run_child("reelkube", work / f"reelkube-{number}"))
            rounds["cli"].append(measure_cli(work / f"cli-{number}", shim))
            rounds["start"].append(measure_start())
            rounds["floor"].append(measure_floor(Path(rounds["reelkube"][0]["output"]), work))
            if args.baseline:
                rounds["base reelkube"].append(run_child("reelkube", work / f"base-{number}", args.baseline))
                rounds["base cli"].append(measure_cli(work / f"base-cli-{number}", shim, args.baseline))
                rounds["base start"].append(measure_start(args.baseline))
            walls = ", ".join(f"{name} {runs[-1]['wall']:.2f}" for name, runs in rounds.items())
            for name in ("cli", "base cli"):
                if rounds.get(name):
                    run = rounds[name][-1]
                    walls += f" ({name}: {run['to_ffmpeg']:.2f} to ffmpeg, {run['after_ffmpeg']:.2f} after)"
            print(f"round {number + 1}: {walls} (load {os.getloadavg()[0]:.2f})", flush=True)
        for name in ("cli", "base cli"):
            for run in rounds.get(name, []):  # each median row shows every round's ends
                for key in ("to_ffmpeg", "after_ffmpeg"):
                    run[key + "s"] = [other[key] for other in rounds[name]]
        reelkube, cli, start, floor = (median(rounds[name]) for name in ("reelkube", "cli", "start", "floor"))
        moviepy = None
        if not args.skip_moviepy:
            moviepy = median([run_child("moviepy", work / f"moviepy-{i}") for i in range(args.repeat)])
        baseline = {
            name.removeprefix("base "): median(rounds[name]) for name in names if name.startswith("base ")
        }
        passed = print_table(
            reelkube, cli, start, floor, moviepy, (load_at_start, os.getloadavg()[0]), baseline
        )
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name, run in (("reelkube.mp4", reelkube), ("moviepy.mp4", moviepy)):
                if run is not None:
                    shutil.copy(run["output"], args.keep / name)
        return 0 if passed else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
