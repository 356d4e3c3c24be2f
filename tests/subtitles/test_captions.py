"""Caption pages and subtitle files from timings (synthetic timings: no Piper needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pysubs2

from reelkube.api.ttsjob import CaptionStyle, SubtitleFormat
from reelkube.engine.ass import escape_ass_line
from reelkube.subtitles import CaptionLook, build_ass, caption_pages, write_subtitles
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming


def make_timings(sentences: list[str], word_seconds: float = 0.3, silence: float = 0.2) -> Timings:
    rate = 1000
    items, cursor = [], 0.0
    for index, text in enumerate(sentences):
        words = text.split()
        start = cursor
        timed = [WordTiming(w, start + 0.05 + i * word_seconds, start + 0.05 + (i + 0.8) * word_seconds)
                 for i, w in enumerate(words)]  # fmt: skip
        end = start + 0.1 + len(words) * word_seconds
        items.append(
            SentenceTiming(
                index, text, start, end, round(start * rate), round(end * rate), timed, "alignment"
            )
        )
        cursor = end + silence
    return Timings(
        sample_rate=rate, total_samples=round(cursor * rate), sentence_silence=silence, sentences=items
    )


LONG = "This is a rather long sentence that will certainly not fit on two short lines of vertical video"
TIMINGS = make_timings(["Short and sweet first sentence here.", LONG, "The {end} is \\N near."])


def test_escaped_text_has_no_override_blocks_or_escapes() -> None:
    escaped = escape_ass_line("a {\\b1}bold{\\b0} \\N line \\h")
    # Every brace is escaped, and no backslash is directly followed by a letter.
    assert re.search(r"(?<!\\)[{}]", escaped) is None
    assert re.search(r"\\[A-Za-z]", escaped) is None
    parsed = pysubs2.SSAEvent(text=escaped).plaintext
    assert "\n" not in parsed


def test_pages_follow_the_voice_and_stay_inside_their_sentence() -> None:
    pages = caption_pages(TIMINGS, max_chars_per_line=18, max_lines=2)
    long_pages = [p for p in pages if p.sentence == 1]
    assert len(long_pages) > 1
    for page in pages:
        sentence = TIMINGS.sentences[page.sentence]
        assert all(len(" ".join(w.text for w in line)) <= 18 for line in page.lines if len(line) > 1)
        assert len(page.lines) <= 2
        first = page.words[0]
        expected_start = (
            sentence.start if page is next(p for p in pages if p.sentence == page.sentence) else first.start
        )
        assert abs(page.start - expected_start) < 1e-9
        assert page.end <= (
            TIMINGS.sentences[page.sentence + 1].start if page.sentence + 1 < 3 else TIMINGS.duration
        )
    assert [w.text for p in long_pages for w in p.words] == LONG.split()
    starts = [p.start for p in pages]
    assert starts == sorted(starts)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(pages, pages[1:], strict=False))


def test_word_highlight_colours_exactly_the_spoken_word(tmp_path: Path) -> None:
    look = CaptionLook(1080, 1920, highlight_color="#ffd400")
    subs = build_ass(TIMINGS, CaptionStyle.WORD_HIGHLIGHT, look)
    words = [w for s in TIMINGS.sentences for w in s.words]
    assert len(subs.events) == len(words)
    for event, word in zip(subs.events, words, strict=True):
        highlighted = re.findall(r"\{\\1c&H00D4FF&\}(.*?)\{\\1c&HFFFFFF&\}", event.text)
        assert highlighted == [escape_ass_line(word.text)]
        assert event.start <= round(word.start * 1000) + 1
        assert event.end >= event.start
    assert subs.info["PlayResX"] == "1080" and subs.info["PlayResY"] == "1920"
    # Pages hold at most four words.
    for event in subs.events:
        plain = re.sub(r"\{\\1c&H[0-9A-F]+&\}", "", event.text).replace("\\N", " ")
        assert len(plain.split()) <= 4


def test_ass_font_and_margins_follow_the_frame() -> None:
    portrait = build_ass(TIMINGS, CaptionStyle.SENTENCE, CaptionLook(1080, 1920)).styles["Default"]
    landscape = build_ass(TIMINGS, CaptionStyle.SENTENCE, CaptionLook(1920, 1080)).styles["Default"]
    assert portrait.fontsize == round(1920 * 0.045)
    assert landscape.fontsize == round(1080 * 0.055)
    assert portrait.marginl >= 0.05 * 1080 and portrait.marginv >= 0.1 * 1920


def test_srt_vtt_and_ass_files_keep_the_text_literal(tmp_path: Path) -> None:
    files = write_subtitles(TIMINGS, list(SubtitleFormat), tmp_path, stem="subs")
    srt = pysubs2.load(str(files[SubtitleFormat.SRT]))
    vtt_text = files[SubtitleFormat.VTT].read_text()
    assert vtt_text.startswith("WEBVTT")
    assert "The {end} is \\N near." in files[SubtitleFormat.SRT].read_text()
    assert srt.events[0].start == 0
    assert "The {end} is \\N near." in vtt_text
    ass_text = files[SubtitleFormat.ASS].read_text()
    assert "\\{end\\}" in ass_text and re.search(r"(?<!\\)\{end", ass_text) is None
    assert "\\\u2060N" in ass_text  # the user's backslash-N is not a line break


def test_vtt_escapes_markup(tmp_path: Path) -> None:
    files = write_subtitles(
        make_timings(["Use <b> & <i> tags here, please."]), [SubtitleFormat.VTT], tmp_path
    )
    assert "Use &lt;b&gt; &amp; &lt;i&gt; tags here, please." in files[SubtitleFormat.VTT].read_text()
