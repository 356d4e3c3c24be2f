"""Cuts in a rendered video, found by ffmpeg's scene-change score (tests marked slow)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def detected_cuts(video: Path, threshold: float = 0.25) -> list[float]:
    """Times (seconds) of the frames whose scene score is over `threshold`: where the picture cuts."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "info", "-i", str(video), "-an", "-vf", f"select='gt(scene,{threshold})',showinfo",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [float(t) for t in re.findall(r"pts_time:([0-9.]+)", proc.stderr)]
