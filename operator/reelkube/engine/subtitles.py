"""Subtitles clips: every source (SRT, VTT, ASS file or inline cues) becomes one .ass file in
the workdir, shifted to the clip's start and cut to its window, burned with the `ass` filter.

ASS sources keep their own styles (word-highlight captions carry colours in their events);
other sources get the clip's style. Inline cue text is escaped so that braces and backslashes
show literally instead of becoming ASS override tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelkube.api.timeline import SubtitlesClip
from reelkube.engine.ass import ass_color, escape_ass_text
from reelkube.engine.filtergraph import filter_spec
from reelkube.engine.fonts import resolve_font
from reelkube.engine.invocation import Invocation
from reelkube.engine.placement import PlacedClip
from reelkube.errors import InputUnreadable, SpecError

if TYPE_CHECKING:  # pysubs2 loads when a timeline has subtitles, not with every plan
    import pysubs2


def subtitles_filter(ctx: Invocation, placed: PlacedClip, number: int) -> str | None:
    """The `ass=` filter for one subtitles clip (None when no cue falls in its window)."""
    clip = placed.clip
    assert isinstance(clip, SubtitlesClip)
    import pysubs2

    try:
        resolve_font(clip.font)
    except SpecError as exc:
        raise SpecError(f"spec.timeline.{placed.path}.font: {exc.message}") from exc
    keep_styles = False
    if clip.cues is not None:
        subs = pysubs2.SSAFile()
        for cue in clip.cues:
            subs.append(
                pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end), text=escape_ass_text(cue.text))
            )
    else:
        assert clip.src is not None
        path = ctx.resolved(clip.src).path
        try:
            subs = pysubs2.load(str(path), encoding="utf-8")
        except Exception as exc:  # pysubs2 raises many kinds for bad files
            raise InputUnreadable(f"cannot read subtitles {clip.src}: {exc}") from exc
        keep_styles = subs.format in ("ass", "ssa") or path.suffix.lower() in (".ass", ".ssa")
    if not keep_styles:
        _apply_style(subs, clip, ctx)
    subs.info["PlayResX"] = subs.info.get("PlayResX", str(ctx.width)) if keep_styles else str(ctx.width)
    subs.info["PlayResY"] = subs.info.get("PlayResY", str(ctx.height)) if keep_styles else str(ctx.height)

    offset, window = _ms(ctx.seconds(placed.start)), _ms(ctx.seconds(placed.frames))
    kept = []
    for event in subs.events:
        if event.is_comment or event.start >= window or event.end <= 0:
            continue
        event.start, event.end = max(event.start, 0) + offset, min(event.end, window) + offset
        kept.append(event)
    # A window keeps only the events that show in it (libass lays out each frame from the
    # events active at its time), so a cue elsewhere does not change this window's file.
    shown_from, shown_until = _ms(ctx.seconds(ctx.first)) - 1, _ms(ctx.seconds(ctx.end)) + 1
    kept = [event for event in kept if event.end > shown_from and event.start < shown_until]
    if not kept:
        return None
    subs.events = kept
    ass_path = ctx.add_file(f"subtitles-{number:03d}.ass", subs.to_string("ass"))
    return filter_spec("ass", filename=str(ass_path))


def _apply_style(subs: pysubs2.SSAFile, clip: SubtitlesClip, ctx: Invocation) -> None:
    import pysubs2

    size = clip.fontSize or max(12, round(ctx.height * (0.045 if ctx.height > ctx.width else 0.055)))
    style = pysubs2.SSAStyle(
        fontname=clip.font,
        fontsize=size,
        primarycolor=ass_color(clip.color),
        secondarycolor=ass_color(clip.highlightColor),
        outlinecolor=ass_color(clip.outlineColor),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        bold=True,
        outline=max(2, size / 16),
        shadow=0,
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(ctx.width * 0.06),
        marginr=round(ctx.width * 0.06),
        marginv=clip.marginV or round(ctx.height * 0.08),
    )
    subs.styles = {"Default": style}
    for event in subs.events:
        event.style = "Default"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
