"""Caption pages from narration timings. Pure.

A page is what is on screen at once: a few lines of a sentence's words. Long sentences become
several pages, each shown from its first word (the sentence's first page from the sentence's
start) until the next page, so captions follow the voice. A sentence's last page holds through
the silence after it, up to HOLD_SECONDS, never into the next sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

HOLD_SECONDS = 0.5
"""How long a sentence's last caption stays after its speech ends (within the silence)."""


@dataclass(frozen=True)
class CaptionPage:
    """Words shown together, broken into lines, with when the page shows."""

    sentence: int
    start: float
    end: float
    lines: list[list[WordTiming]]

    @property
    def words(self) -> list[WordTiming]:
        return [word for line in self.lines for word in line]


def caption_pages(
    timings: Timings, *, max_chars_per_line: int, max_lines: int, max_words: int | None = None
) -> list[CaptionPage]:
    """Pages for every sentence: words packed greedily into lines of at most
    `max_chars_per_line` characters (a longer word gets a line of its own), at most `max_lines`
    lines and `max_words` words per page."""
    pages: list[CaptionPage] = []
    sentences = timings.sentences
    for position, sentence in enumerate(sentences):
        groups = _pack(_words_of(sentence), max_chars_per_line, max_lines, max_words)
        next_start = sentences[position + 1].start if position + 1 < len(sentences) else timings.duration
        last_end = max(sentence.end, min(next_start, sentence.end + HOLD_SECONDS))
        for number, lines in enumerate(groups):
            first_word = lines[0][0]
            start = sentence.start if number == 0 else first_word.start
            end = groups[number + 1][0][0].start if number + 1 < len(groups) else last_end
            pages.append(
                CaptionPage(sentence=sentence.index, start=start, end=max(end, start + 0.001), lines=lines)
            )
    return pages


def _words_of(sentence: SentenceTiming) -> list[WordTiming]:
    if sentence.words:
        return list(sentence.words)
    # A sentence without word timings still gets its text on screen.
    return [WordTiming(sentence.text, sentence.start, sentence.end)]


def _pack(
    words: list[WordTiming], max_chars: int, max_lines: int, max_words: int | None
) -> list[list[list[WordTiming]]]:
    pages: list[list[list[WordTiming]]] = []
    lines: list[list[WordTiming]] = []
    line: list[WordTiming] = []
    count = 0
    for word in words:
        if max_words is not None and count == max_words:
            pages.append([*lines, line])
            lines, line, count = [], [], 0
        width = sum(len(w.text) for w in line) + len(line) + len(word.text)
        if line and width > max_chars:
            lines.append(line)
            line = []
            if len(lines) == max_lines:
                pages.append(lines)
                lines, count = [], 0
        line.append(word)
        count += 1
    if line:
        lines.append(line)
    if lines:
        pages.append(lines)
    return _balance(pages, max_chars)


def _balance(pages: list[list[list[WordTiming]]], max_chars: int) -> list[list[list[WordTiming]]]:
    """Avoid a lone short word on a sentence's last page by moving one more word onto it."""
    if len(pages) < 2:
        return pages
    last, previous = pages[-1], pages[-2]
    if len(last) == 1 and len(last[0]) == 1 and sum(len(line) for line in previous) > 2:
        donor_line = previous[-1]
        moved = donor_line[-1]
        if len(moved.text) + 1 + len(last[0][0].text) <= max_chars:
            previous[-1] = donor_line[:-1]
            if not previous[-1]:
                previous.pop()
            last[0].insert(0, moved)
    return pages
