"""Reading rendered files back for assertions: ffprobe facts and decoded frames as numpy arrays."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


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


def probe(path: Path) -> VideoFacts:
    """Probe `path`, decoding the video stream to count its frames exactly."""
    command = [
        "ffprobe", "-v", "error", "-count_frames", "-of", "json",
        "-show_entries",
        "stream=codec_type,codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt,duration:format=duration",
        str(path),
    ]  # fmt: skip
    data: dict[str, Any] = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
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
    facts = probe(path) if path.suffix not in {".png", ".jpg", ".jpeg"} else None
    wanted = sorted(set(indices))
    select = "+".join(f"eq(n\\,{i})" for i in wanted)
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select={select}", "-vsync", "0"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    if facts is None:
        width, height = image_size(path)
    else:
        width, height = facts.width, facts.height
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    assert len(frames) == len(wanted), f"asked for frames {wanted}, decoded {len(frames)}"
    return dict(zip(wanted, frames, strict=True))


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of an image file."""
    command = ["ffprobe", "-v", "error", "-of", "csv=p=0", "-show_entries", "stream=width,height", str(path)]
    width, height = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split(",")[:2]
    return int(width), int(height)


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


def region_mean(frame: np.ndarray, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    """Mean RGB of a rectangle given in fractions of the frame's height and width."""
    height, width = frame.shape[:2]
    area = frame[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]
    return area.reshape(-1, 3).mean(axis=0)


def bright_mask(frame: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Pixels whose every channel exceeds `threshold` (white text on a tinted background)."""
    return np.all(frame > threshold, axis=2)
