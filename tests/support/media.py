"""Making and reading back real media in tests, with ffmpeg and ffprobe.

Only tests marked ``slow`` may use these (see support.tool_guard): the fast suite runs on machines
without ffmpeg. Probing goes through the engine's own reader (:func:`ffprobe_json`), so a test
sees a file as the renderer does, plus exact frame counts where a test needs them.

Fixtures (shared through ``pytest_plugins`` in tests/conftest.py):

media   session: tiny sample media made with ffmpeg (file name -> path, and "root").
"""

from __future__ import annotations

import json
import struct
import subprocess
import wave
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.engine.probe import ffprobe_json

SAMPLE_CAPTIONS = "1\n00:00:00,000 --> 00:00:01,000\nHello {there}\n\n"
"""The sample captions.srt (text: planner tests use it without the rest of the media)."""


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """image.jpg (400x300), clip.mp4 (320x240, 25 fps, 2 s, with a 440 Hz tone), silent.mp4 (no
    audio), tone.wav (3 s), junk.mp4 (random bytes), captions.srt; "root" is their directory."""
    root = tmp_path_factory.mktemp("media")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=400x300:d=1", "-frames:v", "1", str(root / "image.jpg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           str(root / "clip.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast",
           str(root / "silent.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=f=220:d=3", str(root / "tone.wav"))
    (root / "junk.mp4").write_bytes(bytes(range(256)) * 64)
    (root / "captions.srt").write_text(SAMPLE_CAPTIONS, encoding="utf-8")
    return {p.stem: p for p in root.iterdir()} | {"root": root}


def ffmpeg(*args: str) -> str:
    """Run ffmpeg (overwriting outputs); returns its stderr, where measurements are printed.

    A failure is an AssertionError that shows the end of ffmpeg's stderr."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        command = " ".join(args)
        raise AssertionError(f"ffmpeg {command} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stderr


def probe(path: Path, *, count_frames: bool = True) -> dict[str, Any]:
    """ffprobe's streams and format of a file, as the engine reads them; with ``count_frames``
    each video stream also carries ``nb_read_frames``, counted by decoding it."""
    data = ffprobe_json(path)
    if count_frames:
        counted = _decoded_frame_counts(path)
        for stream in data.get("streams", []):
            if stream.get("index") in counted:
                stream["nb_read_frames"] = counted[stream["index"]]
    return data


def _decoded_frame_counts(path: Path) -> dict[int, str]:
    command = [
        "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-of", "json",
        "-show_entries", "stream=index,nb_read_frames", str(path),
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    streams = json.loads(output)["streams"]
    return {int(s["index"]): str(s["nb_read_frames"]) for s in streams if "nb_read_frames" in s}


def video_stream(path: Path, *, count_frames: bool = True) -> dict[str, Any]:
    """The first video stream of :func:`probe`."""
    return next(s for s in probe(path, count_frames=count_frames)["streams"] if s["codec_type"] == "video")


@dataclass(frozen=True)
class VideoFacts:
    """What ffprobe says about a file's first video stream (frames counted by decoding)."""

    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    pix_fmt: str
    audio_codec: str | None
    audio_duration: float | None


def video_facts(path: Path) -> VideoFacts:
    """The facts of `path`'s video (and first audio) stream, decoding the video to count its frames."""
    data = probe(path)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), None)
    return VideoFacts(
        codec=video["codec_name"],
        width=int(video["width"]),
        height=int(video["height"]),
        fps=Fraction(video["r_frame_rate"]),
        frames=int(video.get("nb_read_frames", 0)),
        duration=float(data.get("format", {}).get("duration", 0) or 0),
        pix_fmt=video.get("pix_fmt", ""),
        audio_codec=audio["codec_name"] if audio else None,
        audio_duration=float(audio["duration"]) if audio and "duration" in audio else None,
    )


def frames_at(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Decode the frames numbered `indices` (0-based) as HxWx3 uint8 RGB arrays."""
    stream = video_stream(path, count_frames=False)
    width, height = int(stream["width"]), int(stream["height"])
    wanted = sorted(set(indices))
    select = "+".join(f"eq(n\\,{i})" for i in wanted)
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select={select}", "-vsync", "0"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    assert len(frames) == len(wanted), f"asked for frames {wanted}, decoded {len(frames)}"
    return dict(zip(wanted, frames, strict=True))


def read_image(path: Path) -> np.ndarray:
    """A PNG or JPEG as an HxWx3 uint8 RGB array."""
    return frames_at(path, [0])[0]


def audio_rms(path: Path, start: float, length: float) -> float:
    """Root-mean-square level of the mono mix of `path` between `start` and `start + length` s."""
    command = ["ffmpeg", "-v", "error", "-ss", str(start), "-t", str(length), "-i", str(path)]
    command += ["-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"]
    samples = np.frombuffer(subprocess.run(command, check=True, capture_output=True).stdout, np.float32)
    assert samples.size > 0, f"no audio decoded at {start}s"
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def decode_mono(path: Path, rate: int) -> np.ndarray:
    """A file's audio as mono float32 at `rate` Hz."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


def integrated_lufs(path: Path) -> float:
    """Integrated loudness by ffmpeg's EBU R128 meter."""
    stderr = ffmpeg("-i", str(path), "-af", "ebur128", "-f", "null", "-")
    summary = stderr[stderr.rfind("Summary:") :]
    line = next(line for line in summary.splitlines() if line.strip().startswith("I:"))
    return float(line.split()[1])


def wav_frames(path: Path) -> tuple[int, int]:
    """(frames, sample rate) of a PCM WAV file."""
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes(), reader.getframerate()


def region_mean(frame: np.ndarray, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    """Mean RGB of a rectangle given in fractions of the frame's height and width."""
    height, width = frame.shape[:2]
    area = frame[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]
    return area.reshape(-1, 3).mean(axis=0)


def bright_mask(frame: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Pixels whose every channel exceeds `threshold` (white text on a tinted background)."""
    return np.all(frame > threshold, axis=2)


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose every row is black: small on disk (identical rows compress to a few bytes
    each), `width` x `height` x 3 bytes once decoded. Built without compressing the picture: one
    row's deflate block, after a full flush, is the same for every row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + width * 3)  # filter byte, then RGB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(height):
        adler = zlib.adler32(row, adler)
    stream = b"\x78\xda" + first + again * (height - 1) + deflate.flush() + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
