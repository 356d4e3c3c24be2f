"""Text lines holding emoji, drawn through libass instead of `drawtext`.

`drawtext` draws with one font file and has no fallback, and Debian's colour emoji font is a
bitmap font it cannot load, so it draws emoji as empty boxes. libass falls back per glyph through
fontconfig (to Symbola, from fonts-symbola, for emoji), shapes right-to-left text, and treats the
text as data once escaped. Only lines with emoji take this path: `drawtext` stays the fast one.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelkube.api.timeline import Position, SlideFrom, TextClip
from reelkube.engine.ass import ass_color, escape_ass_text
from reelkube.engine.filtergraph import filter_spec
from reelkube.engine.invocation import Invocation

# Extended pictographic blocks, regional indicators and the emoji joiners/selectors.
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F1E6, 0x1F1FF),
    (0x200D, 0x200D), (0xFE0F, 0xFE0F), (0x2300, 0x23FF),
)  # fmt: skip

# ASS numpad alignment, top row: the anchor is the line's top edge.
_TOP_ALIGNMENT = {"left": 7, "center": 8, "right": 9}
LINE_HEIGHT = 1.17  # drawtext's line height for DejaVu/Noto, as a multiple of the font size


def has_emoji(line: str) -> bool:
    """Whether `line` holds a character drawtext's single font cannot draw (emoji)."""
    return any(lo <= ord(ch) <= hi for ch in line for lo, hi in _EMOJI_RANGES)


@dataclass(frozen=True)
class LinePlace:
    """Where one line of a text clip goes and when it shows (seconds, pixels)."""

    index: int
    count: int
    spacing: int
    start: float
    end: float


def emoji_line_filter(ctx: Invocation, clip: TextClip, line: str, place: LinePlace, number: int) -> str:
    """An `ass` filter drawing one line of `clip` where `drawtext` would have drawn it."""
    import pysubs2  # loaded only when a line holds emoji

    subs = pysubs2.SSAFile()
    subs.info.update(
        {"PlayResX": str(ctx.width), "PlayResY": str(ctx.height), "ScaledBorderAndShadow": "yes"}
    )
    box_alpha = round(255 * (1 - clip.backgroundOpacity))
    subs.styles = {"Default": pysubs2.SSAStyle(
        fontname=clip.font, fontsize=clip.fontSize, bold=clip.bold,
        primarycolor=ass_color(clip.color), outlinecolor=ass_color(clip.backgroundColor, box_alpha),
        backcolor=pysubs2.Color(0, 0, 0, 102),
        borderstyle=3 if clip.background else 1,
        outline=clip.backgroundPadding if clip.background else 0,
        shadow=max(2, clip.fontSize // 24) if clip.shadow and not clip.background else 0,
        marginl=0, marginr=0, marginv=0,
    )}  # fmt: skip
    x, y, horizontal = _anchor(ctx, clip, place)
    tags = [f"\\an{_TOP_ALIGNMENT[horizontal]}"]
    if clip.slide is not None and clip.slide.distance:
        dx, dy = _slide_offset(clip)
        ms = round(clip.slide.duration * 1000)
        tags.append(f"\\move({x + dx},{y + dy},{x},{y},0,{ms})")
    else:
        tags.append(f"\\pos({x},{y})")
    fade_in = max(clip.fadeIn, clip.transition.duration if clip.transition else 0.0)
    if fade_in or clip.fadeOut:
        tags.append(f"\\fad({round(fade_in * 1000)},{round(clip.fadeOut * 1000)})")
    if clip.opacity < 1:
        tags.append(f"\\alpha&H{round(255 * (1 - clip.opacity)):02X}&")
    text = "{" + "".join(tags) + "}" + escape_ass_text(line)
    subs.events = [pysubs2.SSAEvent(start=round(place.start * 1000), end=round(place.end * 1000), text=text)]
    path = ctx.add_file(f"text-{number:03d}-{place.index:02d}.ass", subs.to_string("ass"))
    return filter_spec("ass", filename=str(path))


def _anchor(ctx: Invocation, clip: TextClip, place: LinePlace) -> tuple[int, int, str]:
    """The line's top anchor (x, y) and its horizontal alignment, as the drawtext path places it."""
    line_h = clip.fontSize * LINE_HEIGHT
    block_h = place.count * line_h + (place.count - 1) * place.spacing
    if clip.position in (Position.TOP, Position.TOP_LEFT, Position.TOP_RIGHT):
        top = float(clip.margin)
    elif clip.position in (Position.BOTTOM, Position.BOTTOM_LEFT, Position.BOTTOM_RIGHT):
        top = ctx.height - block_h - clip.margin
    else:
        top = (ctx.height - block_h) / 2
    if clip.position in (Position.LEFT, Position.TOP_LEFT, Position.BOTTOM_LEFT):
        x, horizontal = clip.margin, "left"
    elif clip.position in (Position.RIGHT, Position.TOP_RIGHT, Position.BOTTOM_RIGHT):
        x, horizontal = ctx.width - clip.margin, "right"
    else:
        x, horizontal = ctx.width // 2, "center"
    y = top + place.index * (line_h + place.spacing)
    return x + clip.offsetX, round(y) + clip.offsetY, horizontal


def _slide_offset(clip: TextClip) -> tuple[int, int]:
    assert clip.slide is not None
    distance = clip.slide.distance
    return {
        SlideFrom.BOTTOM: (0, distance), SlideFrom.TOP: (0, -distance),
        SlideFrom.LEFT: (-distance, 0), SlideFrom.RIGHT: (distance, 0),
    }[clip.slide.start]  # fmt: skip
