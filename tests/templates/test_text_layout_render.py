"""Text laid out as stacked blocks, checked in rendered frames (real ffmpeg): the rows of ink of
each line lie where the layout put it and never run into the next block's, shrunk text stays in
its box, a CJK line wraps inside its box, and right-to-left text is joined and aligned to the
right edge by drawtext (this ffmpeg is built with libfribidi)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelkube.api.renderjob import RenderJob
from reelkube.engine.fonts import TextMeasure
from reelkube.engine.text_layout import Align, BlockStack, TextBlock, TextBox, VAlign, stack_blocks
from reelkube.pipeline.render_job import render_job
from reelkube.templates.layout import line_clip
from support.media import ffmpeg, frames_at, read_image

pytestmark = pytest.mark.slow

INK = 110
"""Luminance over which a pixel is text (white text on black; shadows are dark)."""


def ink_mask(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.int32).mean(axis=2) > INK


def ink_bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows holding ink, as (first row, last row)."""
    rows = np.flatnonzero(mask.any(axis=1))
    bands: list[tuple[int, int]] = []
    for row in rows:
        if bands and row == bands[-1][1] + 1:
            bands[-1] = (bands[-1][0], int(row))
        else:
            bands.append((int(row), int(row)))
    return bands


def render_still(stack: BlockStack, width: int, height: int, out: Path) -> np.ndarray:
    """The stack's lines drawn white on black, without shadows, as one PNG frame."""
    clips: list[dict[str, Any]] = [
        line_clip(line, start=0, duration=1, shadow=False).model_dump(mode="json", exclude_none=True)
        for line in stack.lines
    ]
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "layout"},
            "spec": {
                "timeline": {
                    "width": width, "height": height, "fps": 10, "duration": 1,
                    "tracks": [
                        {"name": "bg", "clips": [{"type": "color", "color": "#000000", "duration": 1}]},
                        {"name": "text", "clips": clips},
                    ],
                },
                "output": {"format": "png", "width": width, "height": height},
            },
        }
    )  # fmt: skip
    result = render_job(job, out, base_dir=out)
    return read_image(Path(result.outputs["image"].path))


def test_the_captioned_reels_subtitle_is_drawn_below_a_title_that_wraps(tmp_path: Path) -> None:
    background = tmp_path / "black.png"
    ffmpeg("-f", "lavfi", "-i", "color=black:s=64x64", "-frames:v", "1", str(background))
    title = "A title long enough to wrap onto three lines"
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "reel"},
            "spec": {
                "template": "captioned-reel",
                "props": {
                    "title": title, "subtitle": "and the subtitle under it",
                    "backgroundUrl": str(background), "overlayOpacity": 0, "durationSeconds": 2.5,
                },
                "output": {"width": 540, "height": 960, "fps": 10, "preset": "ultrafast"},
            },
        }
    )  # fmt: skip
    from reelkube.templates import TemplateContext, expand_template

    timeline = expand_template(
        "captioned-reel", job.spec.props or {}, TemplateContext(output=job.spec.output, workdir=tmp_path)
    ).timeline
    layers = {track.name: track.clips for track in timeline.tracks}
    title_lines, subtitle_lines = layers["title"], layers["subtitle"]
    assert len(title_lines) == 3 and len(subtitle_lines) == 1
    result = render_job(job, tmp_path / "out", base_dir=tmp_path)
    frame = frames_at(Path(result.outputs["video"].path), [24])[24]  # 2.4 s: both faded in, title settled
    bands = ink_bands(ink_mask(frame))
    # One band of ink per line: nothing is drawn over anything else.
    assert len(bands) == 4, bands
    from reelkube.engine.fonts import resolve_font
    from reelkube.engine.text_layout import line_height

    for clip, (top, bottom) in zip([*title_lines, *subtitle_lines], bands, strict=True):
        assert clip.__class__.__name__ == "TextClip"
        pitch = line_height(resolve_font(clip.font, clip.bold), clip.fontSize, clip.text)  # type: ignore[attr-defined]
        # Each line's ink lies within the box the layout gave it.
        assert clip.offsetY - 1 <= top and bottom <= clip.offsetY + pitch + 1, (clip.text, top, bottom)  # type: ignore[attr-defined]
    # The subtitle starts below the last line of the title, with a gap.
    assert bands[3][0] - bands[2][1] > 10


def test_long_text_shrinks_to_stay_inside_its_box(tmp_path: Path) -> None:
    box = TextBox(x=40, y=30, width=240, height=120)
    text = "Long text that would overflow this small box at its preferred size keeps getting smaller"
    stack = stack_blocks(
        [TextBlock("Heading", 40, 10, bold=True), TextBlock(text, 32, 8)], box, valign=VAlign.TOP
    )
    assert stack.scale < 0.6 and stack.sizes[1] < 32
    mask = ink_mask(render_still(stack, 320, 200, tmp_path))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert rows.min() >= box.y and rows.max() < box.y + box.height
    assert cols.min() >= box.x and cols.max() < box.x + box.width
    # It uses its box: shrunk only as far as needed (the ink reaches past the box's middle).
    assert rows.max() > box.y + box.height / 2
    assert len(ink_bands(mask)) == len(stack.lines)


def test_a_cjk_line_wraps_between_characters_inside_its_box(tmp_path: Path) -> None:
    box = TextBox(x=50, y=20, width=200, height=160)
    text = "东京的夜晚很安静，街上的灯一盏一盏地亮起来。"
    stack = stack_blocks([TextBlock(text, 28, 12)], box)
    lines = [line.text for line in stack.lines]
    assert len(lines) >= 3 and "".join(lines) == text
    assert stack.lines[0].font.family == "WenQuanYi Micro Hei"  # DejaVu Sans has no CJK glyphs
    assert not any(line.startswith(("，", "。")) for line in lines)  # no stop at the start of a line
    mask = ink_mask(render_still(stack, 300, 200, tmp_path))
    cols = np.flatnonzero(mask.any(axis=0))
    assert cols.min() >= box.x and cols.max() < box.x + box.width
    assert len(ink_bands(mask)) == len(lines)
    # The lines are full: each but the last is wider than the box less two characters.
    measure = TextMeasure(stack.lines[0].font.file, stack.sizes[0])
    assert all(measure.width(line) > box.width - 2 * stack.sizes[0] for line in lines[:-1])


@pytest.mark.parametrize(
    "text",
    ["مرحبا بالعالم، هذا نص عربي طويل يلتف على عدة أسطر", "שלום עולם, זה טקסט עברי ארוך שנשבר לכמה שורות"],
)
def test_right_to_left_lines_are_joined_and_aligned_to_the_right(tmp_path: Path, text: str) -> None:
    box = TextBox(x=20, y=20, width=260, height=200)
    stack = stack_blocks([TextBlock(text, 26, 12, font="DejaVu Sans")], box, align=Align.START)
    assert len(stack.lines) >= 2 and all(line.rtl for line in stack.lines)
    mask = ink_mask(render_still(stack, 300, 240, tmp_path))
    # Arabic's dots make bands of their own: ink is looked for in each line's box instead.
    assert all(a.y + a.height <= b.y for a, b in zip(stack.lines, stack.lines[1:], strict=False))
    inked = np.zeros(mask.shape[0], dtype=bool)
    for line in stack.lines:
        rows = mask[line.y : line.y + line.height]
        inked[line.y : line.y + line.height] = True
        cols = np.flatnonzero(rows.any(axis=0))
        # Right-aligned: every line ends at the box's right edge.
        assert box.x + box.width - 4 <= cols.max() < box.x + box.width
        # Shaped: the drawn line is as wide as Pillow (HarfBuzz) measures the joined text, so
        # drawtext joined the letters (isolated forms are much wider for Arabic).
        assert cols.max() - cols.min() + 1 == pytest.approx(line.width, rel=0.06)
    assert not mask[~inked].any(), "ink outside the lines' boxes"


def test_the_explainers_heading_pushes_its_bullet_down(tmp_path: Path) -> None:
    from reelkube.templates import TemplateContext, expand_template

    job = RenderJob.model_validate(
        {
            "metadata": {"name": "lower-third"},
            "spec": {
                "template": "explainer",
                "props": {
                    "title": None, "outro": None,
                    "scenes": [{
                        "narration": "Quantum gadgets hum quietly inside their thimbles all day long.",
                        "text": {"heading": "A heading long enough to wrap onto two lines",
                                 "bullet": "and the bullet under it"},
                        "visual": {"query": "nothing matches this"},
                    }],
                    "style": {"captions": False, "tintOpacity": 0},
                },
                "output": {"width": 640, "height": 360, "fps": 10, "preset": "ultrafast"},
            },
        }
    )  # fmt: skip
    result = render_job(job, tmp_path / "out", base_dir=tmp_path)
    timeline = expand_template(
        "explainer", job.spec.props or {}, TemplateContext(output=job.spec.output, workdir=tmp_path / "plan")
    ).timeline
    lines = [c for t in timeline.tracks if t.name == "text" for c in t.clips]
    heading = [c for c in lines if c.bold]  # type: ignore[union-attr]
    assert len(heading) == 2 and len(lines) == 3
    frame = frames_at(Path(result.outputs["video"].path), [10])[10]  # 1 s: faded and slid in
    bands = ink_bands(ink_mask(frame))
    assert len(bands) == 3, bands
    from reelkube.engine.fonts import resolve_font
    from reelkube.engine.text_layout import line_height

    for clip, (top, bottom) in zip(lines, bands, strict=True):
        pitch = line_height(resolve_font(clip.font, clip.bold), clip.fontSize, clip.text)  # type: ignore[union-attr]
        assert clip.offsetY - 1 <= top and bottom <= clip.offsetY + pitch + 1, (clip.text, top, bottom)  # type: ignore[union-attr]
