"""Running a RenderPlan: ffmpeg with `-progress`, throttled progress events, clean cancellation.

ffmpeg runs in its own process session (a terminal's Ctrl-C reaches only the engine, which
stops it in order) and is told to die with the engine (PR_SET_PDEATHSIG), so no ffmpeg outlives
the engine, even when the engine itself is killed.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from reelkube.api.status import Step
from reelkube.engine.plan import RenderPlan
from reelkube.engine.probe import REFUSED_PICTURE, with_input_protocols
from reelkube.errors import InputTooLarge, RenderFailed, RenderOutOfMemory, UnsupportedCodec
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress

log = logging.getLogger(__name__)

STDERR_LINES = 30
STOP_GRACE_SECONDS = 5.0
_CODEC_MISSING = ("Unknown encoder", "Encoder not found", "Cannot load libnvidia-encode", "No NVENC capable",
                  "OpenEncodeSessionEx failed", "Cannot load libcuda", "Could not open encoder")  # fmt: skip


ENCODER_PROBE_SECONDS = 30.0
_PROBE_SIZE = "256x256"
"""Above NVENC's smallest frame (HEVC refuses frames under 129x33 on some GPUs)."""


def probe_encoder(
    encoder: str, *, ffmpeg: str = "ffmpeg", timeout: float = ENCODER_PROBE_SECONDS
) -> str | None:
    """Why ``encoder`` cannot encode on this machine, or None when it can: a real one-frame
    encode, since ffmpeg lists h264_nvenc whether or not a GPU, a driver or a free session is
    there."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"color=s={_PROBE_SIZE}",
            "-frames:v", "1", "-c:v", encoder, "-f", "null", "-"]  # fmt: skip
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"a one-frame test encode took longer than {timeout:g} s"
    except OSError as exc:
        return f"cannot run {ffmpeg}: {exc.strerror}"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    # The first line names the cause (no CUDA, no NVENC device); the rest is ffmpeg's teardown.
    cause = next(
        (line for line in lines if any(m in line for m in _CODEC_MISSING)), lines[0] if lines else ""
    )
    cause = re.sub(r"^\[[^\]]*\]\s*", "", cause)  # "[h264_nvenc @ 0x55...] " says nothing
    return (cause or f"exit code {proc.returncode}")[:300]


@dataclass(frozen=True)
class ExecResult:
    """A finished ffmpeg run."""

    output: Path
    frames: int
    wall_seconds: float
    stderr_tail: list[str]


def run_ffmpeg(
    plan: RenderPlan, on_progress: ProgressCallback = ignore_progress, *, interval: float = 0.25
) -> ExecResult:
    """Run the plan's ffmpeg, reporting RENDERING progress at most every `interval` seconds.

    Raises RenderFailed (UnsupportedCodec when the encoder is missing) with ffmpeg's last
    stderr lines. Whatever interrupts the wait (Canceled from the run pipeline's signal handler,
    :mod:`reelkube.pipeline.cancel`) stops ffmpeg first; either way the partial output is removed.
    """
    plan.write_files()
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    argv = with_input_protocols([plan.argv[0], "-progress", "pipe:1", "-nostats", *plan.argv[1:]])
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
    refused: list[re.Match[str]] = []
    log.info(
        "event=ffmpeg_start output=%s frames=%d encoder=%s", plan.output, plan.total_frames, plan.encoder
    )
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace", start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        try:
            reader = threading.Thread(target=_drain, args=(proc.stderr, tail, refused), daemon=True)
            reader.start()
            frame = _follow_progress(proc, plan, on_progress, started, interval)
            returncode = proc.wait()
            reader.join(timeout=5)
        finally:
            _stop(proc)
    except BaseException as stop:  # Canceled (a signal), KeyboardInterrupt, a failing callback
        plan.output.unlink(missing_ok=True)
        log.warning("event=ffmpeg_stopped output=%s cause=%s", plan.output, type(stop).__name__)
        raise
    wall = time.monotonic() - started
    lines = [line for line in tail if line.strip()]
    if refused:
        # The decoder skipped frames over -max_pixels (exit 0, a frozen picture in their place):
        # a stream that grew its picture size after the frames the probe saw.
        plan.output.unlink(missing_ok=True)
        width, height = int(refused[0].group(1)), int(refused[0].group(2))
        raise InputTooLarge(
            f"an input changes its picture size mid-stream to {width}x{height} pixels "
            f"({width * height:,}), over inputLimits.maxPixels; those frames were not decoded and "
            "the render is refused"
        )
    if returncode != 0:
        plan.output.unlink(missing_ok=True)
        detail = "\n".join(lines[-STDERR_LINES:]) or "(no error output)"
        if returncode == -signal.SIGKILL:
            raise RenderOutOfMemory(
                f"ffmpeg ({plan.encoder}) was killed by SIGKILL, most likely by the kernel's "
                f"out-of-memory killer at the pod's memory limit{_memory_limit_text()}: raise "
                "spec.resources.memory"
            )
        error = UnsupportedCodec if any(m in detail for m in _CODEC_MISSING) else RenderFailed
        raise error(f"ffmpeg failed with exit code {returncode} ({plan.encoder}):\n{detail}")
    if not plan.output.is_file():
        raise RenderFailed(f"ffmpeg exited 0 but wrote no {plan.output.name}")
    on_progress(ProgressEvent(step=Step.RENDERING, percent=100.0, frame=plan.total_frames,
                              total_frames=plan.total_frames, eta_seconds=0.0))  # fmt: skip
    log.info("event=ffmpeg_done output=%s frames=%d seconds=%.2f", plan.output, frame, wall)
    return ExecResult(output=plan.output, frames=plan.total_frames, wall_seconds=wall, stderr_tail=lines)


def _follow_progress(
    proc: subprocess.Popen[str],
    plan: RenderPlan,
    on_progress: ProgressCallback,
    started: float,
    interval: float,
) -> int:
    """Read `-progress` blocks (`key=value` lines ending with `progress=...`) until EOF."""
    assert proc.stdout is not None
    total = max(plan.total_frames, 1)
    block: dict[str, str] = {}
    last_sent, best = 0.0, -1.0
    frame = 0
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        block[key] = value
        if key != "progress":
            continue
        frame = _int(block.get("frame"))
        percent = min(99.9, 100.0 * frame / total)
        now = time.monotonic()
        if percent > best and (now - last_sent >= interval or value == "end"):
            best, last_sent = percent, now
            elapsed = now - started
            rate = frame / elapsed if elapsed > 0 and frame else None
            eta = (total - frame) / rate if rate else None
            on_progress(ProgressEvent(step=Step.RENDERING, percent=round(percent, 1), frame=frame,
                                      total_frames=plan.total_frames, fps=_float(block.get("fps")),
                                      eta_seconds=None if eta is None else round(eta, 1)))  # fmt: skip
        block = {}
    return frame


def _drain(stream: object, tail: collections.deque[str], refused: list[re.Match[str]]) -> None:
    """Keep the last lines of ffmpeg's stderr, and the first -max_pixels refusal wherever it is."""
    for line in stream:  # type: ignore[attr-defined]
        tail.append(line.rstrip("\n"))
        if not refused and (match := REFUSED_PICTURE.search(line)):
            refused.append(match)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop ffmpeg if it still runs: SIGTERM (it finishes cleanly), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


_CGROUP_MEMORY_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def _memory_limit_text() -> str:
    """`` of 2.0 GiB`` from the container's cgroup (v2, then v1); empty when there is none."""
    for path in _CGROUP_MEMORY_LIMITS:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:  # v1 writes a huge number for "no limit"
            return f" of {int(raw) / (1 << 30):.1f} GiB"
    return ""


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
