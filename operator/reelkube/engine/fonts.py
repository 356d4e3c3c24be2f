"""Fonts by family name (fontconfig), and approximate text measurement for wrapping."""

from __future__ import annotations

import functools
import logging
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from reelkube.errors import SpecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FontMatch:
    """fontconfig's answer for a pattern."""

    families: tuple[str, ...]
    """Every family name the font answers to (its first is its own)."""
    style: str
    file: Path
    ranges: frozenset[tuple[int, int]]
    """The code point ranges it covers."""


@functools.lru_cache(maxsize=128)
def fontconfig_match(pattern: str) -> FontMatch | None:
    """fontconfig's answer for ``pattern``, None when it has none. One fc-match run per pattern
    and process, which says everything both callers ask (the file for a family, and which
    characters it draws): each run costs tens of milliseconds before the render's first frame."""
    try:
        proc = subprocess.run(
            ["fc-match", "--format", "%{family}\n%{style}\n%{file}\n%{charset}", pattern],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise SpecError("fc-match (fontconfig) is not installed; cannot resolve fonts") from exc
    lines = proc.stdout.split("\n", 3)
    if proc.returncode != 0 or len(lines) < 4:
        return None
    ranges = set()
    for part in lines[3].split():
        low, _, high = part.partition("-")
        ranges.add((int(low, 16), int(high or low, 16)))
    families = tuple(name.strip() for name in lines[0].split(","))
    return FontMatch(families=families, style=lines[1], file=Path(lines[2]), ranges=frozenset(ranges))


@functools.lru_cache(maxsize=64)
def resolve_font(family: str, bold: bool = False) -> Path:
    """The font file fontconfig picks for `family` (bold face when asked).

    fontconfig always answers with *some* font, so the answer's family names are compared with
    the one asked for; a family that is not installed is a SpecError, not a silent substitute.
    """
    match = fontconfig_match(f"{family}:weight=bold" if bold else f"{family}:weight=regular")
    if match is None:
        raise SpecError(f"font {family!r} is not installed (fc-match found nothing)")
    if family.casefold() not in {name.casefold() for name in match.families}:
        raise SpecError(f"font {family!r} is not installed (fontconfig offers {match.families[0]!r})")
    if bold and "bold" not in match.style.casefold():
        log.warning("event=font_no_bold family=%r using=%r", family, match.style)
    return match.file


class TextMeasure:
    """Width of a string in pixels at a font size: exact with Pillow when it is installed,
    otherwise an estimate from character classes (good to about 10% for Latin text)."""

    def __init__(self, font_file: Path, size: int) -> None:
        self.size = size
        self._font = None
        try:
            from PIL import ImageFont

            self._font = ImageFont.truetype(str(font_file), size)
        except Exception:  # Pillow missing or font unreadable by it: fall back to estimates
            self._font = None

    def width(self, text: str) -> float:
        """Approximate advance width of `text` in pixels."""
        if self._font is not None:
            return float(self._font.getlength(text))
        return sum(_char_em(ch) for ch in text) * self.size


def _char_em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if unicodedata.combining(ch):
        return 0.0
    if ch in "iljI.,:;'|!`" or ch == " ":
        return 0.3
    if ch.isupper() or ch in "mwMW@%":
        return 0.72
    return 0.56


def wrap_text(text: str, max_width: float, measure: TextMeasure) -> list[str]:
    """Break `text` into lines no wider than `max_width` where spaces allow; explicit newlines
    are kept. A single word wider than the limit is split by characters."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").split("\n"):
        words = paragraph.split(" ")
        current = ""
        for word in words:
            candidate = word if not current else f"{current} {word}"
            if measure.width(candidate) <= max_width or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
            while measure.width(current) > max_width and len(current) > 1:
                cut = fit_chars(current, max_width, measure)
                lines.append(current[:cut])
                current = current[cut:]
        lines.append(current)
    return lines


def fit_chars(text: str, max_width: float, measure: TextMeasure) -> int:
    """How many leading characters of `text` fit in `max_width` (at least one): where a word
    longer than its line is cut."""
    # Widths grow with the prefix, so the longest prefix that fits is found by bisection: a
    # 2,000-character word takes 11 measurements instead of up to 2,000.
    fits, too_wide = 1, len(text)
    while too_wide - fits > 1:
        middle = (fits + too_wide) // 2
        if measure.width(text[:middle]) <= max_width:
            fits = middle
        else:
            too_wide = middle
    return fits
