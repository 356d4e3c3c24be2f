"""Text laid out as blocks that stack, with line breaking that knows CJK and a font that can draw
the text.

- **Line breaking** (`wrap_lines`): between words where there are spaces; between any two CJK
  characters (Chinese, Japanese and Korean text is written without spaces), keeping closing
  punctuation (`。`, `」`, `！`...) off the start of a line and opening punctuation off its end;
  a run wider than the line is cut between characters.
- **Right-to-left** (Arabic, Hebrew): lines are broken in logical order and drawn by `drawtext`,
  which reorders and joins them itself in this ffmpeg (built with libfribidi, `text_shaping`
  on by default: checked with `ffmpeg -buildconf`). Lines that start right-to-left are aligned to
  the right edge of their box when a block is aligned to its start.
- **Fonts** (`font_for_text`): `drawtext` draws with one font file and has no fallback, so a
  block whose characters the asked-for family lacks (CJK in DejaVu Sans) is drawn with the font
  fontconfig offers for those characters (WenQuanYi Micro Hei, from fonts-wqy-microhei);
  characters no installed font draws are logged (they show as the font's empty box).
- **Blocks** (`stack_blocks`): a heading that wraps to three lines pushes what is under it down;
  when the blocks together are taller than their box, every block shrinks (in steps, down to its
  `min_size`) until they fit, and text that cannot fit even then is a SpecError naming its field.
  Each line gets its own place (top-left corner, pixels), so templates emit one single-line
  `TextClip` per line and nothing depends on how `drawtext` spaces lines.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from reelkube.engine.emoji_text import has_emoji
from reelkube.engine.fonts import TextMeasure, fit_chars, fontconfig_match, resolve_font
from reelkube.errors import SpecError

log = logging.getLogger(__name__)

SHRINK_STEP = 0.9
"""Each try at fitting scales every block's size by this."""
FALLBACK_LINE_HEIGHT = 1.17
"""Line height as a multiple of the size when the font's metrics cannot be read (drawtext's for
DejaVu and Noto)."""

# Characters that must not begin a line (closing brackets, stops, small kana marks) or end one.
_NO_LINE_START = frozenset(
    "、。，．,.!?！？：；:;)]}）］｝〕〉》」』】〙〗〟’”ヽヾーァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎゕゖ々〻‐゠–〜～…‥"
)
_NO_LINE_END = frozenset("([{（［｛〔〈《「『【〘〖〝‘“")


def is_cjk(ch: str) -> bool:
    """Whether `ch` is a CJK character a line may break before or after (ideographs, kana,
    Hangul, CJK punctuation and full-width forms)."""
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK symbols and punctuation, kana, ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width and half-width forms
        or 0x20000 <= code <= 0x3FFFF  # ideographs beyond the basic plane
    )


def is_rtl(text: str) -> bool:
    """Whether `text` starts right-to-left: its first strong character is Arabic or Hebrew (the
    rule bidi uses for a paragraph's direction)."""
    for ch in text:
        direction = unicodedata.bidirectional(ch)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def _tokens(paragraph: str) -> list[tuple[str, bool]]:
    """(token, a space before it) in order: words between spaces, each CJK character its own
    token, with punctuation kept on the side of the character it belongs to."""
    tokens: list[tuple[str, bool]] = []
    space = False
    word = ""
    for ch in paragraph:
        if ch == " ":
            if word:
                tokens.append((word, space))
                word = ""
            space = True
            continue
        # A break opportunity before a CJK character or after one, unless ch may not start a
        # line or the run so far ends with a character that may not end one.
        cjk_edge = is_cjk(ch) or (word and is_cjk(word[-1]))
        if cjk_edge and word and ch not in _NO_LINE_START and word[-1] not in _NO_LINE_END:
            tokens.append((word, space))
            word, space = "", False
        word += ch
    if word:
        tokens.append((word, space))
    return tokens


def wrap_lines(text: str, max_width: float, measure: TextMeasure) -> list[str]:
    """Break `text` into lines no wider than `max_width` (see the module docstring); explicit
    newlines are kept, tabs are four spaces."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").split("\n"):
        current = ""
        for token, space_before in _tokens(paragraph):
            candidate = f"{current}{' ' if space_before and current else ''}{token}"
            if not current or measure.width(candidate) <= max_width:
                current = candidate
            else:
                lines.append(current)
                current = token
            while measure.width(current) > max_width and len(current) > 1:
                cut = fit_chars(current, max_width, measure)
                lines.append(current[:cut])
                current = current[cut:]
        lines.append(current)
    return lines


# --- fonts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontChoice:
    """The family to name in a TextClip and the file drawtext will load for it."""

    family: str
    file: Path


def _needs_glyph(ch: str) -> bool:
    # Spaces, controls and marks without a glyph of their own need none; emoji go through libass.
    category = unicodedata.category(ch)
    return not (category.startswith(("Z", "C", "M")) or has_emoji(ch))


def _fc_match(pattern: str) -> tuple[str, str, Path, frozenset[tuple[int, int]]]:
    """fontconfig's answer for `pattern`: (family, style, file, covered code point ranges)."""
    match = fontconfig_match(pattern)
    if match is None:
        raise SpecError(f"fontconfig found no font for {pattern!r}")
    return match.families[0], match.style, match.file, match.ranges


def _missing(text: str, ranges: frozenset[tuple[int, int]]) -> list[str]:
    seen: list[str] = []
    for ch in text:
        if ch not in seen and _needs_glyph(ch) and not any(lo <= ord(ch) <= hi for lo, hi in ranges):
            seen.append(ch)
    return seen


def font_for_text(family: str, bold: bool, text: str, *, field: str = "text") -> FontChoice:
    """`family` when it draws every character of `text`, else the installed family fontconfig
    offers for the characters it lacks. When no installed font draws them all, the one that
    draws more is used and the characters left are logged (naming `field`)."""
    weight = "bold" if bold else "regular"
    asked = resolve_font(family, bold)
    _, _, _, ranges = _fc_match(f"{family}:weight={weight}")
    missing = _missing(text, ranges)
    if not missing:
        return FontChoice(family, asked)
    charset = " ".join(f"{ord(ch):x}" for ch in missing[:32])
    other, _, file, other_ranges = _fc_match(f"{family}:weight={weight}:charset={charset}")
    still = _missing(text, other_ranges)
    if still:
        log.warning(
            "event=font_missing_glyphs field=%s family=%r fallback=%r characters=%s",
            field, family, other, " ".join(f"U+{ord(ch):04X}" for ch in still[:10]),
        )  # fmt: skip
        if len(still) >= len(missing):
            return FontChoice(family, asked)
    return FontChoice(other, file)


# --- blocks --------------------------------------------------------------------------------


class Align(StrEnum):
    """Where lines sit across their box: at its start (left, or right for a right-to-left line),
    centred, or at its end."""

    START = "start"
    CENTER = "center"
    END = "end"


class VAlign(StrEnum):
    """Where the stack sits in its box, top to bottom."""

    TOP = "top"
    CENTER = "center"
    BOTTOM = "bottom"


@dataclass(frozen=True)
class TextBlock:
    """A paragraph to stack: its text, preferred and smallest size, and its font."""

    text: str
    size: int
    min_size: int
    font: str = "DejaVu Sans"
    bold: bool = False
    line_spacing: float = 0.15
    """Extra space between its lines, as a share of its size."""
    gap_after: float = 0.5
    """Space before the next block, as a share of this block's size."""
    field: str = "text"
    """Where the text came from, for a refusal."""


@dataclass(frozen=True)
class TextBox:
    """The rectangle blocks are stacked in (pixels, top-left origin)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class PlacedLine:
    """One line of a block where it goes: its top-left corner and its size."""

    block: int
    """Index of its block."""
    text: str
    x: int
    y: int
    width: int
    height: int
    size: int
    font: FontChoice
    rtl: bool


@dataclass(frozen=True)
class BlockStack:
    """The lines of every block, and how much the blocks were shrunk to fit."""

    lines: list[PlacedLine]
    scale: float
    sizes: list[int]
    top: int
    bottom: int

    def block_lines(self, block: int) -> list[PlacedLine]:
        """The lines of one block, top first."""
        return [line for line in self.lines if line.block == block]


def line_height(font: Path, size: int, text: str = "") -> int:
    """The height a line of `text` takes: the font's ascent plus descent, or more when the
    line's own glyphs reach further (marks stacked above Arabic letters). `drawtext` puts the
    top of a line's tallest glyph at its y, so the ink lies within this height below it."""
    try:
        from PIL import ImageFont

        loaded = ImageFont.truetype(str(font), size)
        ascent, descent = loaded.getmetrics()
        ink = 0
        if text.strip():
            left, top, right, bottom = loaded.getbbox(text, anchor="ls")
            ink = int(bottom - top) + 1
        return max(int(ascent + descent), ink)
    except Exception:  # Pillow missing or the font unreadable by it: drawtext's usual height
        return round(FALLBACK_LINE_HEIGHT * size)


def stack_blocks(
    blocks: Sequence[TextBlock], box: TextBox, *, align: Align = Align.CENTER, valign: VAlign = VAlign.TOP
) -> BlockStack:
    """Wrap each block to the box's width and stack them, shrinking all of them together until
    they fit its height (see the module docstring)."""
    if not blocks:
        return BlockStack([], 1.0, [], box.y, box.y)
    fonts = [font_for_text(b.font, b.bold, b.text, field=b.field) for b in blocks]
    scale = 1.0
    while True:
        sizes = [max(b.min_size, round(b.size * scale)) for b in blocks]
        laid = [_wrap_block(b, f, s, box.width) for b, f, s in zip(blocks, fonts, sizes, strict=True)]
        height = _stack_height(blocks, laid, sizes)
        at_minimum = all(s <= b.min_size for s, b in zip(sizes, blocks, strict=True))
        if height <= box.height or at_minimum:
            break
        scale *= SHRINK_STEP
    if height > box.height:
        tallest = max(range(len(blocks)), key=lambda i: sum(laid[i][1]))
        raise SpecError(
            f"{blocks[tallest].field}: the text does not fit its box ({box.width}x{box.height} px) even at "
            f"{sizes[tallest]} px: shorten it",
            reason="TextTooLong",
        )
    if valign == VAlign.CENTER:
        cursor = box.y + (box.height - height) // 2
    elif valign == VAlign.BOTTOM:
        cursor = box.y + box.height - height
    else:
        cursor = box.y
    top = cursor
    placed: list[PlacedLine] = []
    for index, (block, font, size, (lines, heights)) in enumerate(
        zip(blocks, fonts, sizes, laid, strict=True)
    ):
        measure = TextMeasure(font.file, size)
        spacing = round(block.line_spacing * size)
        for number, (line, pitch) in enumerate(zip(lines, heights, strict=True)):
            width = round(measure.width(line))
            rtl = is_rtl(line)
            placed.append(
                PlacedLine(
                    block=index, text=line, x=_line_x(box, width, align, rtl), y=cursor, width=width,
                    height=pitch, size=size, font=font, rtl=rtl,
                )
            )  # fmt: skip
            cursor += pitch + (spacing if number < len(lines) - 1 else 0)
        if index < len(blocks) - 1:
            cursor += round(block.gap_after * size)
    return BlockStack(placed, scale, sizes, top, cursor)


def _wrap_block(block: TextBlock, font: FontChoice, size: int, width: int) -> tuple[list[str], list[int]]:
    """The block's lines at `size` and the height of each."""
    lines = [line for line in wrap_lines(block.text, width, TextMeasure(font.file, size)) if line.strip()]
    return lines, [line_height(font.file, size, line) for line in lines]


def _stack_height(
    blocks: Sequence[TextBlock], laid: Sequence[tuple[list[str], list[int]]], sizes: Sequence[int]
) -> int:
    total = 0
    for index, (block, (lines, heights), size) in enumerate(zip(blocks, laid, sizes, strict=True)):
        total += sum(heights) + max(0, len(lines) - 1) * round(block.line_spacing * size)
        if index < len(blocks) - 1:
            total += round(block.gap_after * size)
    return total


def _line_x(box: TextBox, width: int, align: Align, rtl: bool) -> int:
    if align == Align.CENTER:
        return box.x + (box.width - width) // 2
    at_end = (align == Align.END) != rtl
    return box.x + box.width - width if at_end else box.x
