"""Subtitle files from narration timings: ASS styled for the frame, plus SRT and WebVTT.

ASS is laid out for the output size: the font size follows the frame height, margins keep text
inside the safe area, and lines are broken to a character budget that suits the frame's width
(narrow for vertical video). Two styles:

- sentence: each sentence as one or more pages of at most two lines, following the voice;
- word-highlight: pages of a few words, larger and higher in the frame, one event per word
  with the word being spoken coloured (ASS `\\1c` override tags).

User text is escaped, so `{`, `}` and `\\` show literally and never become override tags.
SRT and WebVTT carry plain sentence pages for players (42 characters a line, two lines),
written here rather than by pysubs2, whose SRT writer turns a literal `\\N` into a line break.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from reelkube.api.ttsjob import CaptionStyle, SubtitleFormat
from reelkube.engine.ass import ass_color, ass_override_color, escape_ass_line
from reelkube.subtitles.captions import CaptionPage, caption_pages
from reelkube.subtitles.timings import Timings, WordTiming

PLAYER_CHARS_PER_LINE = 42
WORDS_PER_HIGHLIGHT_PAGE = 4
# Average advance of bold DejaVu/Noto Sans glyphs, in ems (used to budget characters per line).
AVERAGE_CHAR_EM = 0.6


@dataclass(frozen=True)
class CaptionLook:
    """Frame size and colours (#rrggbb) of burned-in captions."""

    width: int
    height: int
    font: str = "DejaVu Sans"
    color: str = "#ffffff"
    highlight_color: str = "#ffd400"
    outline_color: str = "#000000"

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def font_size(self, style: CaptionStyle) -> int:
        """Pixels: a share of the frame height, larger for word-highlight pages."""
        share = 0.045 if self.portrait else 0.055
        if style == CaptionStyle.WORD_HIGHLIGHT:
            share *= 1.3
        return max(12, round(self.height * share))

    @property
    def margin_h(self) -> int:
        return round(self.width * 0.06)

    def margin_v(self, style: CaptionStyle) -> int:
        """Bottom margin: clear of the platform UI at the bottom of vertical video."""
        if style == CaptionStyle.WORD_HIGHLIGHT:
            return round(self.height * (0.25 if self.portrait else 0.15))
        return round(self.height * (0.12 if self.portrait else 0.08))

    def chars_per_line(self, style: CaptionStyle) -> int:
        usable = self.width - 2 * self.margin_h
        return max(8, min(PLAYER_CHARS_PER_LINE, int(usable / (self.font_size(style) * AVERAGE_CHAR_EM))))


def build_ass(timings: Timings, style: CaptionStyle, look: CaptionLook) -> pysubs2.SSAFile:
    """Burn-in captions for a frame of `look.width` x `look.height`."""
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(look.width)
    subs.info["PlayResY"] = str(look.height)
    subs.info["WrapStyle"] = "0"
    subs.info["ScaledBorderAndShadow"] = "yes"
    size = look.font_size(style)
    subs.styles = {
        "Default": pysubs2.SSAStyle(
            fontname=look.font,
            fontsize=size,
            primarycolor=ass_color(look.color),
            secondarycolor=ass_color(look.highlight_color),
            outlinecolor=ass_color(look.outline_color),
            backcolor=ass_color("#000000", alpha=128),
            bold=True,
            outline=max(2.0, size / 14),
            shadow=max(1.0, size / 30),
            alignment=pysubs2.Alignment.BOTTOM_CENTER,
            marginl=look.margin_h,
            marginr=look.margin_h,
            marginv=look.margin_v(style),
        )
    }
    chars = look.chars_per_line(style)
    if style == CaptionStyle.WORD_HIGHLIGHT:
        pages = caption_pages(
            timings, max_chars_per_line=chars, max_lines=2, max_words=WORDS_PER_HIGHLIGHT_PAGE
        )
        subs.events = list(_highlight_events(pages, look))
    else:
        pages = caption_pages(timings, max_chars_per_line=chars, max_lines=2)
        subs.events = [
            _event(page.start, page.end, "\\N".join(_line_text(line) for line in page.lines))
            for page in pages
        ]
    return subs


def player_cues(timings: Timings) -> list[tuple[float, float, list[str]]]:
    """Sentence pages as plain lines, for SRT and WebVTT: (start, end, lines)."""
    return [
        (page.start, page.end, [" ".join(word.text for word in line) for line in page.lines])
        for page in caption_pages(timings, max_chars_per_line=PLAYER_CHARS_PER_LINE, max_lines=2)
    ]


def srt_text(timings: Timings) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm` times; the text exactly as written."""
    blocks = [
        f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n" + "\n".join(lines)
        for number, (start, end, lines) in enumerate(player_cues(timings), 1)
    ]
    return "\n\n".join(blocks) + "\n"


def vtt_text(timings: Timings) -> str:
    """WebVTT: cue text is markup, so `&`, `<` and `>` become entities."""
    blocks = [
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n"
        + "\n".join(html.escape(line, quote=False) for line in lines)
        for start, end, lines in player_cues(timings)
    ]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def write_subtitles(
    timings: Timings,
    formats: Iterable[SubtitleFormat],
    out_dir: Path,
    *,
    stem: str = "subtitles",
    style: CaptionStyle = CaptionStyle.SENTENCE,
    look: CaptionLook | None = None,
) -> dict[SubtitleFormat, Path]:
    """Write each requested format as `out_dir/<stem>.<format>`; the paths by format.
    ASS is laid out for `look` (default: a 1080x1920 vertical frame)."""
    written: dict[SubtitleFormat, Path] = {}
    for subtitle_format in formats:
        path = out_dir / f"{stem}.{subtitle_format.value}"
        if subtitle_format == SubtitleFormat.ASS:
            text = build_ass(timings, style, look or CaptionLook(1080, 1920)).to_string("ass")
        elif subtitle_format == SubtitleFormat.VTT:
            text = vtt_text(timings)
        else:
            text = srt_text(timings)
        path.write_text(text, encoding="utf-8")
        written[subtitle_format] = path
    return written


def _highlight_events(pages: list[CaptionPage], look: CaptionLook) -> Iterable[pysubs2.SSAEvent]:
    active = ass_override_color(look.highlight_color)
    normal = ass_override_color(look.color)
    for page in pages:
        words = page.words
        for index, word in enumerate(words):
            start = page.start if index == 0 else word.start
            end = words[index + 1].start if index + 1 < len(words) else page.end
            lines = []
            position = 0
            for line in page.lines:
                parts = []
                for other in line:
                    text = escape_ass_line(other.text)
                    parts.append(f"{{\\1c{active}}}{text}{{\\1c{normal}}}" if position == index else text)
                    position += 1
                lines.append(" ".join(parts))
            yield _event(start, max(end, start + 0.001), "\\N".join(lines))


def _line_text(line: list[WordTiming]) -> str:
    return " ".join(escape_ass_line(word.text) for word in line)


def _clock(seconds: float, decimal_mark: str) -> str:
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{ms:03d}"


def _event(start: float, end: float, text: str) -> pysubs2.SSAEvent:
    return pysubs2.SSAEvent(start=round(start * 1000), end=round(end * 1000), text=text)
