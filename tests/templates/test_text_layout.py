"""The block layout templates draw text with (engine/text_layout.py), without rendering: line
breaking for spaced, CJK and right-to-left text, the font chosen for text the asked family lacks,
stacking and shrinking. The rendered checks are in test_text_layout_render.py."""

from __future__ import annotations

import pytest

from reelkube.engine.fonts import TextMeasure, resolve_font
from reelkube.engine.text_layout import (
    Align,
    TextBlock,
    TextBox,
    VAlign,
    font_for_text,
    is_cjk,
    is_rtl,
    stack_blocks,
    wrap_lines,
)
from reelkube.errors import SpecError

CJK_FONT = "WenQuanYi Micro Hei"


def cjk_measure(size: int = 20) -> TextMeasure:
    return TextMeasure(resolve_font(CJK_FONT), size)


def test_cjk_breaks_between_characters_and_keeps_stops_off_line_starts() -> None:
    text = "你好，世界。这是一个很长的句子，没有空格。"
    measure = cjk_measure()
    lines = wrap_lines(text, 5.5 * 20, measure)
    assert "".join(lines) == text
    assert all(measure.width(line) <= 5.5 * 20 for line in lines)
    assert len(lines) >= 4
    assert not any(line[0] in "，。" for line in lines)
    # An opening bracket stays with what it opens.
    quoted = wrap_lines("他说「我们走吧」然后离开了", 5.5 * 20, measure)
    assert not any(line.endswith("「") for line in quoted)


def test_spaced_and_mixed_text_breaks_at_spaces_and_around_cjk() -> None:
    measure = cjk_measure()
    assert wrap_lines("Hello world 世界", 1000, measure) == ["Hello world 世界"]
    lines = wrap_lines("Tokyo 东京 is 很安静 tonight", 6 * 20, measure)
    assert "Tokyo" in lines[0] and all(measure.width(line) <= 6 * 20 for line in lines)
    # Nothing lost or added but the spaces where lines break; no line starts or ends with one.
    assert "".join(lines).replace(" ", "") == "Tokyo东京is很安静tonight"
    assert all(line == line.strip() for line in lines) and len(lines) > 1
    # Explicit newlines are kept; a word wider than the line is cut between characters.
    assert wrap_lines("one\ntwo", 1000, measure) == ["one", "two"]
    assert all(measure.width(line) <= 60 for line in wrap_lines("x" * 40, 60, measure))


@pytest.mark.parametrize(
    ("text", "rtl"),
    [("مرحبا بالعالم", True), ("שלום עולם", True), ("123 שלום", True), ("Hello שלום", False), ("", False)],
)
def test_a_line_is_right_to_left_when_its_first_strong_character_is(text: str, rtl: bool) -> None:
    assert is_rtl(text) is rtl


def test_cjk_characters() -> None:
    assert all(is_cjk(ch) for ch in "中文かなカナ한글，。")
    assert not any(is_cjk(ch) for ch in "Aé1 ,.")


def test_a_family_without_the_texts_characters_gives_way_to_one_with_them() -> None:
    assert font_for_text("DejaVu Sans", False, "Plain Latin").family == "DejaVu Sans"
    assert font_for_text("DejaVu Sans", False, "مرحبا שלום").family == "DejaVu Sans"
    chosen = font_for_text("DejaVu Sans", False, "东京 Tokyo")
    assert chosen.family == CJK_FONT and chosen.file.exists()
    # Emoji are drawn through libass, not looked for in the font.
    assert font_for_text("DejaVu Sans", False, "Party 🎉").family == "DejaVu Sans"
    with pytest.raises(SpecError, match="not installed"):
        font_for_text("No Such Family", False, "text")


def test_a_heading_that_wraps_pushes_the_next_block_down() -> None:
    box = TextBox(x=0, y=100, width=400, height=800)
    short = stack_blocks([TextBlock("Short", 48, 20, bold=True), TextBlock("Below", 24, 12)], box)
    long = stack_blocks(
        [TextBlock("A much longer heading that wraps", 48, 20, bold=True), TextBlock("Below", 24, 12)], box
    )
    assert len(long.block_lines(0)) > 1
    below_short, below_long = short.block_lines(1)[0], long.block_lines(1)[0]
    last_heading = long.block_lines(0)[-1]
    assert below_long.y >= last_heading.y + last_heading.height
    assert below_long.y - below_short.y == pytest.approx(sum(
        line.height for line in long.block_lines(0)[1:]
    ) + (len(long.block_lines(0)) - 1) * round(0.15 * 48), abs=2)  # fmt: skip
    # Lines never overlap, and the stack starts at the box's top.
    assert all(a.y + a.height <= b.y for a, b in zip(long.lines, long.lines[1:], strict=False))
    assert long.top == box.y and long.scale == 1.0


def test_blocks_shrink_together_to_fit_and_text_that_never_fits_is_refused() -> None:
    box = TextBox(x=10, y=10, width=300, height=150)
    text = "This paragraph is much too long for the little box it was given at its size"
    stack = stack_blocks(
        [TextBlock("Title", 40, 10, bold=True), TextBlock(text, 30, 8)], box, valign=VAlign.BOTTOM
    )
    assert stack.scale < 1 and stack.sizes[0] < 40 and stack.sizes[1] < 30
    assert stack.bottom == box.y + box.height and stack.top >= box.y
    assert all(box.x <= line.x and line.x + line.width <= box.x + box.width for line in stack.lines)
    with pytest.raises(SpecError, match=r"spec\.props\.body: the text does not fit its box") as caught:
        stack_blocks([TextBlock("W" * 400, 30, 20, field="spec.props.body")], box)
    assert caught.value.reason == "TextTooLong"


def test_alignment_across_the_box() -> None:
    box = TextBox(x=100, y=0, width=600, height=400)
    start = stack_blocks([TextBlock("Left", 30, 10), TextBlock("שלום", 30, 10)], box, align=Align.START)
    left, hebrew = start.lines
    assert left.x == box.x and not left.rtl
    assert hebrew.rtl and hebrew.x + hebrew.width == box.x + box.width
    centred = stack_blocks([TextBlock("Middle", 30, 10)], box).lines[0]
    assert centred.x + centred.width / 2 == pytest.approx(box.x + box.width / 2, abs=1)
    end = stack_blocks([TextBlock("Right", 30, 10)], box, align=Align.END).lines[0]
    assert end.x + end.width == box.x + box.width
