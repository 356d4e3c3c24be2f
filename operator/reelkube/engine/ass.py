"""ASS (Advanced SubStation Alpha) text and colours, for everything drawn through libass.

Subtitles clips, emoji text lines and burned-in captions all write ASS events. Their text is
data: escaping keeps `{`, `}` and `\\` literal, so user text never becomes an override tag or
an `\\N`-style escape. The two escapings differ only in what a newline becomes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pysubs2 loads when something is drawn through libass, not with every plan
    import pysubs2


def escape_ass_text(text: str) -> str:
    """Literal text for an ASS event; each newline becomes an ASS line break (`\\N`)."""
    text = text.replace("\r\n", "\n").replace("\\", "\\\u2060")  # a word joiner breaks `\N`, `\h`
    return text.replace("{", "\\{").replace("}", "\\}").replace("\n", "\\N")


def escape_ass_line(text: str) -> str:
    """Literal text for an ASS event kept on one line: each newline becomes a space (captions
    break their own lines)."""
    return escape_ass_text(text.replace("\n", " "))


def ass_color(hex_color: str, alpha: int = 0) -> pysubs2.Color:
    """#rrggbb as a pysubs2 colour (alpha 0 is opaque, as in ASS)."""
    import pysubs2

    return pysubs2.Color(int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16), alpha)


def ass_override_color(hex_color: str) -> str:
    """#rrggbb as an ASS `\\1c` override value: &HBBGGRR&."""
    return f"&H{hex_color[5:7]}{hex_color[3:5]}{hex_color[1:3]}&".upper()
