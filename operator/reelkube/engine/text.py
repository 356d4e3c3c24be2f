"""Text clips as `drawtext` filters drawn straight onto the canvas.

The text is data: each wrapped line is written to its own file and read with `textfile=` and
`expansion=none`, so quotes, colons, `%{...}`, brackets and newlines can neither break the
graph nor be expanded. One `drawtext` per line lets every line be aligned on its own (ffmpeg
5.1's drawtext cannot centre lines within a block).
"""

from __future__ import annotations

from reelkube.api.timeline import Position, SlideFrom, TextClip
from reelkube.engine.emoji_text import LinePlace, emoji_line_filter, has_emoji
from reelkube.engine.filtergraph import filter_spec, format_number
from reelkube.engine.fonts import TextMeasure
from reelkube.engine.invocation import Invocation
from reelkube.engine.placement import PlacedClip
from reelkube.engine.text_layout import font_for_text, wrap_lines
from reelkube.errors import SpecError

_LEFT = {Position.LEFT, Position.TOP_LEFT, Position.BOTTOM_LEFT}
_RIGHT = {Position.RIGHT, Position.TOP_RIGHT, Position.BOTTOM_RIGHT}
_TOP = {Position.TOP, Position.TOP_LEFT, Position.TOP_RIGHT}
_BOTTOM = {Position.BOTTOM, Position.BOTTOM_LEFT, Position.BOTTOM_RIGHT}


def text_filters(ctx: Invocation, placed: PlacedClip, number: int) -> list[str]:
    """The drawtext filters for one text clip (one per non-empty line)."""
    clip = placed.clip
    assert isinstance(clip, TextClip)
    try:
        # A family that lacks the text's characters (CJK in DejaVu Sans) gives way to one that has them.
        font = font_for_text(clip.font, clip.bold, clip.text, field=f"spec.timeline.{placed.path}.text").file
    except SpecError as exc:
        raise SpecError(f"spec.timeline.{placed.path}.font: {exc.message}") from exc
    padding = clip.backgroundPadding if clip.background else 0
    max_width = max(clip.fontSize, min(clip.maxWidth * ctx.width, ctx.width - 2 * clip.margin) - 2 * padding)
    lines = wrap_lines(clip.text, max_width, TextMeasure(font, clip.fontSize))

    start, end = ctx.seconds(placed.start), ctx.seconds(placed.end)
    half = 0.5 / float(ctx.fps)
    enable = f"between(t,{format_number(start - half)},{format_number(end - half)})"
    alpha = _alpha(clip, placed, start, end)
    dx, dy = _slide(clip, start)

    count = len(lines)
    # Each line has its own box: keep the boxes from covering the neighbouring lines.
    spacing = max(clip.lineSpacing, 2 * clip.backgroundPadding) if clip.background else clip.lineSpacing
    step = f"(lh+{spacing})"
    block_h = f"({count}*lh+{(count - 1) * spacing})"
    if clip.position in _TOP:
        top = f"{clip.margin}"
    elif clip.position in _BOTTOM:
        top = f"h-{block_h}-{clip.margin}"
    else:
        top = f"(h-{block_h})/2"
    if clip.position in _LEFT:
        left = f"{clip.margin}"
    elif clip.position in _RIGHT:
        left = f"w-tw-{clip.margin}"
    else:
        left = "(w-tw)/2"

    filters = []
    shadow = max(2, clip.fontSize // 24)
    boxcolor = f"{clip.backgroundColor}@{format_number(clip.backgroundOpacity)}"
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if has_emoji(line):
            place = LinePlace(index=i, count=count, spacing=spacing, start=start, end=end)
            filters.append(emoji_line_filter(ctx, clip, line, place, number))
            continue
        textfile = ctx.add_file(f"text-{number:03d}-{i:02d}.txt", line)
        filters.append(
            filter_spec(
                "drawtext",
                fontfile=str(font),
                textfile=str(textfile),
                expansion="none",
                fontsize=clip.fontSize,
                fontcolor=clip.color,
                x=f"{left}+{clip.offsetX}{dx}",
                y=f"{top}+{i}*{step}+{clip.offsetY}{dy}",
                alpha=alpha,
                box=1 if clip.background else None,
                boxcolor=boxcolor if clip.background else None,
                boxborderw=clip.backgroundPadding if clip.background else None,
                shadowcolor="black@0.6" if clip.shadow else None,
                shadowx=shadow if clip.shadow else None,
                shadowy=shadow if clip.shadow else None,
                enable=enable,
            )
        )
    return filters


def _alpha(clip: TextClip, placed: PlacedClip, start: float, end: float) -> str | None:
    fade_in = clip.fadeIn
    if clip.transition is not None:
        fade_in = max(fade_in, clip.transition.duration)  # text has no xfade: it fades in
    terms = []
    if clip.opacity < 1:
        terms.append(format_number(clip.opacity))
    if fade_in > 0:
        terms.append(f"clip((t-{format_number(start)})/{format_number(fade_in)},0,1)")
    if clip.fadeOut > 0:
        terms.append(f"clip(({format_number(end)}-t)/{format_number(clip.fadeOut)},0,1)")
    return "*".join(terms) if terms else None


def _slide(clip: TextClip, start: float) -> tuple[str, str]:
    """Offsets (as `+expr`) for x and y: the distance left to travel, easing out."""
    if clip.slide is None or clip.slide.distance == 0:
        return "", ""
    left = (
        f"{clip.slide.distance}*pow(1-clip((t-{format_number(start)})/"
        f"{format_number(clip.slide.duration)},0,1),2)"
    )
    side = clip.slide.start
    if side == SlideFrom.BOTTOM:
        return "", f"+{left}"
    if side == SlideFrom.TOP:
        return "", f"-{left}"
    if side == SlideFrom.LEFT:
        return f"-{left}", ""
    return f"+{left}", ""
