"""Laid-out lines (`engine.text_layout.stack_blocks`) as timeline clips: one single-line
`TextClip` per line, pinned by its top-left corner, so the layout decides where every line goes
and the engine only draws it."""

from __future__ import annotations

from typing import Any

from reelkube.api.timeline import Position, TextClip
from reelkube.engine.text_layout import PlacedLine


def line_clip(line: PlacedLine, **look: Any) -> TextClip:
    """A clip drawing `line` where the layout placed it; `look` sets the rest (timing, colour,
    fades, slide, shadow). The clip's wrap width is the whole frame, so the engine never breaks
    a line the layout already fitted."""
    return TextClip(
        text=line.text,
        font=line.font.family,
        fontSize=line.size,
        position=Position.TOP_LEFT,
        offsetX=line.x,
        offsetY=line.y,
        margin=0,
        maxWidth=1.0,
        **look,
    )
