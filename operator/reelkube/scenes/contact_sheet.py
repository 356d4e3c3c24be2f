"""The storyboard's contact sheet: one labelled frame per scene, tiled, drawn with ffmpeg.

Each tile shows the scene's visual (an image scaled to cover; a video's frame half a second in;
a fallback card's colour with its text) with a band along the bottom: the scene's number, its
times and its text. Tiles are made one ffmpeg run each, then joined by the `tile` filter.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path

from reelkube.errors import RenderFailed
from reelkube.scenes.brief import AssetKind
from reelkube.scenes.storyboard import Storyboard, StoryboardScene

TILE_LONG_SIDE = 320
COLUMNS = 4
LABEL_CHARS = 38
VIDEO_FRAME_AT = 0.5

SourceResolver = Callable[[str, AssetKind], Path]
"""Fetches a visual's `src` (path, URL or s3://) and returns the local file."""


def tile_size(width: int, height: int) -> tuple[int, int]:
    """A tile's size: the frame's shape with its long side TILE_LONG_SIDE (even numbers)."""
    scale = TILE_LONG_SIDE / max(width, height)
    return 2 * round(width * scale / 2), 2 * round(height * scale / 2)


def grid(count: int) -> tuple[int, int]:
    """Columns and rows for `count` tiles."""
    columns = min(COLUMNS, max(1, count))
    return columns, max(1, math.ceil(count / columns))


def label_for(scene: StoryboardScene) -> str:
    """`3  4.2-7.9s  Heading...` (shortened to LABEL_CHARS)."""
    text = " ".join(scene.label.split())
    if len(text) > LABEL_CHARS:
        text = text[: LABEL_CHARS - 1].rstrip() + "…"
    return f"{scene.index + 1}  {scene.start:.1f}-{scene.end:.1f}s  {text}"


def write_contact_sheet(
    storyboard: Storyboard, target: Path, resolve: SourceResolver, workdir: Path, font_file: Path
) -> Path:
    """Draw the contact sheet of `storyboard` into `target` (PNG); returns `target`."""
    workdir.mkdir(parents=True, exist_ok=True)
    width, height = tile_size(storyboard.width, storyboard.height)
    for scene in storyboard.scenes:
        _draw_tile(scene, workdir / f"tile_{scene.index:03d}.png", width, height, resolve, workdir, font_file)
    columns, rows = grid(len(storyboard.scenes))
    _ffmpeg(
        ["-framerate", "1", "-i", str(workdir / "tile_%03d.png"),
         "-vf", f"tile={columns}x{rows}:padding=6:margin=6:color=0x202020",
         "-frames:v", "1", "-update", "1", str(target)]
    )  # fmt: skip
    return target


def _draw_tile(
    scene: StoryboardScene,
    target: Path,
    width: int,
    height: int,
    resolve: SourceResolver,
    workdir: Path,
    font_file: Path,
) -> None:
    visual = scene.visual
    band = max(18, height // 9)
    label_file = workdir / f"label_{scene.index:03d}.txt"
    label_file.write_text(label_for(scene), encoding="utf-8")
    font = _filter_path(font_file)
    filters = [
        f"scale={width}:{height}:force_original_aspect_ratio=increase",
        f"crop={width}:{height}",
        "setsar=1",
        "format=rgb24",  # a filled drawbox on yuv420p washes colours out
        f"drawbox=x=0:y=ih-{band}:w=iw:h={band}:color=black@0.65:t=fill",
        f"drawtext=fontfile='{font}':textfile='{_filter_path(label_file)}':fontcolor=white:"
        f"fontsize={round(band * 0.55)}:x=6:y=h-{band}+({band}-th)/2",
    ]
    if visual.source == "fallback" or visual.src is None or visual.kind is None:
        card_file = workdir / f"card_{scene.index:03d}.txt"
        card_file.write_text(_wrap(scene.label, 22), encoding="utf-8")
        color = (visual.color or "#333333").lstrip("#")
        inputs = ["-f", "lavfi", "-i", f"color=c=0x{color}:s={width}x{height}"]
        filters.append(
            f"drawtext=fontfile='{font}':textfile='{_filter_path(card_file)}':fontcolor=white:"
            f"fontsize={max(12, height // 10)}:x=(w-tw)/2:y=(h-{band}-th)/2"
        )
    else:
        source = resolve(visual.src, visual.kind)
        if visual.kind == AssetKind.VIDEO:
            inputs = ["-ss", str(VIDEO_FRAME_AT), "-i", str(source)]
        else:
            inputs = ["-i", str(source)]
    _ffmpeg([*inputs, "-vf", ",".join(filters), "-frames:v", "1", "-update", "1", str(target)])
    if not target.exists() and visual.kind == AssetKind.VIDEO:
        # A clip shorter than VIDEO_FRAME_AT: take its first frame.
        _ffmpeg([*inputs[2:], "-vf", ",".join(filters), "-frames:v", "1", "-update", "1", str(target)])


def _wrap(text: str, width: int) -> str:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines[:4])


def _filter_path(path: Path) -> str:
    """A path quoted for a filter option inside single quotes."""
    return str(path.resolve()).replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:")


def _ffmpeg(args: list[str]) -> None:
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RenderFailed(f"contact sheet: ffmpeg failed: {proc.stderr.strip()[-500:]}")
