"""Video, image and colour clips: one stream per layer, composited onto the canvas.

A layer is one clip, or consecutive clips of a track joined by transitions (one `xfade`
chain). Each layer's stream has exactly its frames at the output rate; it is shifted to its
start time and laid over the canvas with `overlay=eof_action=pass`, so it shows only while it
has frames. Stills are decoded and scaled once; a Ken Burns move is one `zoompan` over that
single frame, and full-frame colour tints over a still are composed into it once, before the
zoom, instead of blended on every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from reelkube.api.timeline import Box, ColorClip, Fit, ImageClip, KenBurns, VideoClip
from reelkube.engine.filtergraph import filter_spec, format_number
from reelkube.engine.invocation import Invocation
from reelkube.engine.placement import PlacedClip
from reelkube.errors import SpecError

MediaClip = VideoClip | ImageClip | ColorClip


@dataclass
class MediaLayer:
    """One clip, or a chain of clips joined by transitions, drawn as one stream."""

    members: list[PlacedClip]
    tints: list[ColorClip] = field(default_factory=list)
    """Full-frame colours folded into a still image (composed once, not per frame)."""

    @property
    def start(self) -> int:
        return self.members[0].start

    @property
    def end(self) -> int:
        return self.members[-1].end

    @property
    def first(self) -> MediaClip:
        clip = self.members[0].clip
        assert isinstance(clip, MediaClip)
        return clip

    def box(self, ctx: Invocation) -> tuple[int, int, int, int]:
        return resolve_box(getattr(self.first, "box", None), ctx)

    def is_opaque_full_frame(self, ctx: Invocation) -> bool:
        """True when the layer hides everything beneath it for its whole window."""
        if self.box(ctx) != (0, 0, ctx.width, ctx.height):
            return False
        for placed in self.members:
            clip = placed.clip
            assert isinstance(clip, MediaClip)
            if _needs_alpha(clip, placed, ctx) or (
                not isinstance(clip, ColorClip) and clip.fit == Fit.CONTAIN
            ):
                return False
        return True


def resolve_box(box: Box | None, ctx: Invocation) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a clip's box on the canvas."""
    if box is None:
        return (0, 0, ctx.width, ctx.height)
    return (box.left, box.top, box.width or ctx.width, box.height or ctx.height)


def group_layers(track: list[PlacedClip]) -> list[MediaLayer | PlacedClip]:
    """Media clips joined by transitions become one MediaLayer; other clips pass through."""
    out: list[MediaLayer | PlacedClip] = []
    for placed in track:
        if not isinstance(placed.clip, MediaClip):
            out.append(placed)
            continue
        prev = out[-1] if out else None
        if placed.overlap > 0 and isinstance(prev, MediaLayer) and prev.end == placed.start + placed.overlap:
            prev.members.append(placed)
        else:
            out.append(MediaLayer(members=[placed]))
    return out


def fold_tints(ops: list[MediaLayer | PlacedClip], ctx: Invocation) -> list[MediaLayer | PlacedClip]:
    """Fold full-frame, steady colour layers into the still image right beneath them.

    Allowed when the colour has the image's exact window, no fades, and nothing else is
    drawn between the two during that window: then (tint over zoomed image) equals (zoomed
    (tint over image)), and the blend runs once instead of on every frame.
    """
    result = list(ops)
    i = 0
    while i < len(result):
        base = result[i]
        if (
            isinstance(base, MediaLayer)
            and len(base.members) == 1
            and isinstance(base.first, ImageClip)
            and base.is_opaque_full_frame(ctx)
        ):
            j = i + 1
            while j < len(result):
                other = result[j]
                if _is_foldable_tint(other, base, ctx):
                    assert isinstance(other, MediaLayer)
                    base.tints.append(other.first)  # type: ignore[arg-type]
                    del result[j]
                    continue
                o_start, o_end = _window(other)
                if o_start < base.end and o_end > base.start:
                    break
                j += 1
        i += 1
    return result


def _is_foldable_tint(op: MediaLayer | PlacedClip, base: MediaLayer, ctx: Invocation) -> bool:
    if not isinstance(op, MediaLayer) or len(op.members) != 1 or not isinstance(op.first, ColorClip):
        return False
    clip = op.first
    return (
        (op.start, op.end) == (base.start, base.end)
        and op.box(ctx) == (0, 0, ctx.width, ctx.height)
        and clip.fadeIn == 0
        and clip.fadeOut == 0
        and op.members[0].overlap == 0
    )


def _window(op: MediaLayer | PlacedClip) -> tuple[int, int]:
    return (op.start, op.end)


def _needs_alpha(clip: MediaClip, placed: PlacedClip, ctx: Invocation) -> bool:
    entering = clip.transition is not None and placed.overlap == 0
    transparent = isinstance(clip, ImageClip) and ctx.media(clip.src).has_alpha
    return clip.opacity < 1 or clip.fadeIn > 0 or clip.fadeOut > 0 or entering or transparent


XFADE_PAD_FRAMES = 2
"""Frames each side of a transition is padded by (see `_join_transitions`)."""


def emit_layer(ctx: Invocation, layer: MediaLayer, *, local_time: bool = False) -> tuple[str, str, str]:
    """Build the layer's frames inside the invocation's window; returns (label, overlay x,
    overlay y). The stream carries timeline timestamps (see `Invocation`), so it shows from the
    layer's first frame in the window; `local_time` (the layer is the canvas itself, starting at
    frame 0) leaves a single pass's stream as it is. The layer must share frames with the window.
    """
    bx, by, bw, bh = layer.box(ctx)
    chained = len(layer.members) > 1
    # Decided over every member, not only those in the window, so each window draws with the
    # pixel formats a single pass uses.
    alpha = any(_needs_alpha(p.clip, p, ctx) for p in layer.members)  # type: ignore[arg-type]
    fits = {getattr(p.clip, "fit", Fit.STRETCH) for p in layer.members}
    if chained and len({resolve_box(getattr(p.clip, "box", None), ctx) for p in layer.members}) > 1:
        raise SpecError(
            f"spec.timeline.{layer.members[1].path}.transition: clips joined by a transition must "
            "share the same box"
        )
    pad_contain = chained and Fit.CONTAIN in fits
    alpha = alpha or pad_contain
    members = [p for p in layer.members if ctx.in_window(p.start, p.end)]
    labels = [emit_member(ctx, p, bw, bh, alpha=alpha, pad_contain=pad_contain, tints=layer.tints)
              for p in members]  # fmt: skip
    shown_from = max(ctx.first, members[0].start)
    label = labels[0]
    if len(labels) > 1:
        label = _join_transitions(ctx, members, labels, shown_from, alpha=alpha)
    elif not (local_time and shown_from == 0):
        label = ctx.graph.add([label], [f"setpts=PTS-STARTPTS+{shown_from}"])
    x, y = str(bx), str(by)
    if not pad_contain and fits == {Fit.CONTAIN} and not isinstance(layer.first, ColorClip):
        x, y = f"{bx}+({bw}-w)/2", f"{by}+({bh}-h)/2"
    return label, x, y


def _join_transitions(
    ctx: Invocation, members: list[PlacedClip], labels: list[str], shown_from: int, *, alpha: bool
) -> str:
    """The window's frames of clips joined by transitions, from their streams (`labels`).

    Each stream is cut into its parts: the frames it shows alone, and those it shares with a
    neighbour through a transition. Only the shared frames go through `xfade`, each side exactly
    the transition's frames in the window (padded, then trimmed: ffmpeg 5.1's xfade drops a
    queued frame when its first input ends, and emits its first input's leftovers after the
    transition when that input played alone before it), so a single pass and a window that opens
    or ends inside a transition blend the same pairs of frames. The parts are joined in order
    and numbered: xfade's own timestamps after a transition depend on what came before it.

    xfade works in 4:4:4 (ffmpeg 5.1 has no 4:2:0 xfade), so its frames go back to the members'
    format before the concat: concat takes one format for all its inputs, and a window opening
    inside a transition (xfade first) would otherwise turn every frame of the window to 4:4:4 and
    back, twice the window's conversions (the 30 s window measured 2.4x slower) and not the
    single pass's pixels.
    """
    # Timeline frames [lo, hi) of each part, in order, with the streams it is cut from.
    cuts: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(members))}
    parts: list[tuple[int, int, tuple[int, ...]]] = []
    for i, placed in enumerate(members):
        alone_from = members[i - 1].end if i else placed.start
        alone_until = members[i + 1].start if i + 1 < len(members) else placed.end
        if i:
            lo, hi = max(ctx.first, placed.start), min(ctx.end, members[i - 1].end)
            parts.append((lo, hi, (i - 1, i)))
        lo, hi = max(ctx.first, alone_from), min(ctx.end, alone_until)
        if lo < hi:
            parts.append((lo, hi, (i,)))
    for lo, hi, sources in parts:
        for i in sources:
            cuts[i].append((lo, hi))
    pieces: dict[tuple[int, int, int], str] = {}
    for i, ranges in cuts.items():
        begin = max(ctx.first, members[i].start)  # the stream's first frame on the timeline
        outs = [ctx.graph.label("x") for _ in ranges]
        if len(ranges) == 1:
            ctx.graph.chains.append(f"[{labels[i]}]null[{outs[0]}]")
        else:
            ctx.graph.chains.append(f"[{labels[i]}]split={len(ranges)}" + "".join(f"[{o}]" for o in outs))
        for (lo, hi), out in zip(ranges, outs, strict=True):
            trim = filter_spec("trim", start_frame=(lo - begin) or None, end_frame=hi - begin)
            pieces[(i, lo, hi)] = ctx.graph.add([out], [trim])
    joined: list[str] = []
    for lo, hi, sources in parts:
        if len(sources) == 1:
            joined.append(pieces[(sources[0], lo, hi)])
            continue
        before, after = sources
        clip = members[after].clip
        assert isinstance(clip, MediaClip) and clip.transition is not None
        pad = filter_spec("tpad", stop=XFADE_PAD_FRAMES, stop_mode="clone")
        sides = [ctx.graph.add([pieces[(j, lo, hi)]], [pad]) for j in (before, after)]
        xfade = filter_spec(
            "xfade",
            transition=clip.transition.type.value,
            duration=ctx.seconds(members[after].overlap),
            # From the first shared frame in the window: negative when the window opens inside.
            offset=ctx.seconds(members[after].start - lo),
        )
        back = "format=yuva420p" if alpha else "format=yuv420p"
        joined.append(ctx.graph.add(sides, [xfade, back, filter_spec("trim", end_frame=hi - lo)]))
    tb = f"{ctx.fps.denominator}/{ctx.fps.numerator}"
    # concat wants one sample aspect ratio; the clips are drawn in the box's own pixels.
    joined = [ctx.graph.add([part], ["setsar=1"]) for part in joined]
    concat = [filter_spec("concat", n=len(joined), v=1, a=0)] if len(joined) > 1 else []
    return ctx.graph.add(joined, [*concat, f"settb={tb}", f"setpts=N+{shown_from}"])


def emit_member(
    ctx: Invocation,
    placed: PlacedClip,
    bw: int,
    bh: int,
    *,
    alpha: bool,
    pad_contain: bool,
    tints: list[ColorClip],
) -> str:
    """One clip's frames inside the window, at time base 1/fps, each with the timestamp it has
    in the clip's own time (frame `i` of the clip at pts `i`), so fades keep their times."""
    clip = placed.clip
    # The clip's own frames [skip, until) fall inside the window.
    skip = max(ctx.first, placed.start) - placed.start
    until = min(ctx.end, placed.end) - placed.start
    if isinstance(clip, ColorClip):
        opacity = clip.opacity
        source = filter_spec(
            "color", c=f"{clip.color}@{format_number(opacity)}", s=f"{bw}x{bh}", r=ctx.fps_text
        )
        chain = [source, filter_spec("trim", start_frame=skip or None, end_frame=until)]
        if alpha:
            chain.append("format=yuva420p")
        chain += _fades(ctx, clip, placed)
        return ctx.graph.add([], chain)
    if isinstance(clip, VideoClip):
        chain = _video_source(ctx, clip, placed, skip, until) + _fit_filters(clip.fit, bw, bh, pad_contain)
        label = ctx.graph.add(chain[:1], chain[1:])
        return _finish_member(ctx, clip, placed, label, alpha)
    assert isinstance(clip, ImageClip)
    label = _still_frame(ctx, clip, bw, bh, pad_contain, tints)
    if clip.kenBurns is not None:
        timed = [_zoompan(ctx, clip.kenBurns, placed.frames, bw, bh, skip, until)]
        if skip:
            timed.append(f"setpts=PTS+{skip}")  # zoompan numbers its frames from 0
    else:
        # One decoded frame, repeated by reference (no copies), at exact frame times.
        tb = f"{ctx.fps.denominator}/{ctx.fps.numerator}"
        numbered = f"setpts=N+{skip}" if skip else "setpts=N"
        timed = [f"loop=loop={until - skip - 1}:size=1", f"settb={tb}", numbered]
    label = ctx.graph.add([label], timed)
    return _finish_member(ctx, clip, placed, label, alpha)


def _finish_member(ctx: Invocation, clip: MediaClip, placed: PlacedClip, label: str, alpha: bool) -> str:
    # `fps` fixes the link's frame rate (xfade compares them); zoompan sets it already, and an
    # `fps` after zoompan would drop its last frame.
    chain = [] if isinstance(clip, ImageClip) and clip.kenBurns is not None else [f"fps={ctx.fps_text}"]
    if alpha:
        chain.append("format=yuva420p")
        if clip.opacity < 1:
            chain.append(filter_spec("lut", a=f"val*{format_number(clip.opacity)}"))
    chain += _fades(ctx, clip, placed)
    return ctx.graph.add([label], chain) if chain else label


def _fades(ctx: Invocation, clip: MediaClip, placed: PlacedClip) -> list[str]:
    fade_in = clip.fadeIn
    if clip.transition is not None and placed.overlap == 0:
        # A transition with nothing to cross from (first clip, or a gap): fade in instead.
        fade_in = max(fade_in, clip.transition.duration)
    length = ctx.seconds(placed.frames)
    out = []
    if fade_in > 0:
        out.append(filter_spec("fade", t="in", st=0, d=min(fade_in, length), alpha=1))
    if clip.fadeOut > 0:
        d = min(clip.fadeOut, length)
        out.append(filter_spec("fade", t="out", st=max(0.0, length - d), d=d, alpha=1))
    return out


def _fit_filters(fit: Fit, bw: int, bh: int, pad_contain: bool) -> list[str]:
    if fit == Fit.COVER:
        return [
            filter_spec("scale", bw, bh, force_original_aspect_ratio="increase"),
            filter_spec("crop", bw, bh),
        ]
    if fit == Fit.CONTAIN:
        scaled = [filter_spec("scale", bw, bh, force_original_aspect_ratio="decrease", force_divisible_by=2)]
        if pad_contain:
            scaled += [
                "format=yuva420p",
                filter_spec("pad", bw, bh, "(ow-iw)/2", "(oh-ih)/2", color="black@0"),
            ]
        return scaled
    return [filter_spec("scale", bw, bh)]


PREROLL_SECONDS = 1.0
"""A window inside a video clip starts reading this much earlier, so the source frame a single
pass shows at the window's first frame (the latest one at or before it, however low the
source's rate) is decoded too."""


def _video_source(ctx: Invocation, clip: VideoClip, placed: PlacedClip, skip: int, until: int) -> list[str]:
    """The clip's frames [skip, until) of its own time, from its media seeked near `skip`."""
    info = ctx.media(clip.src)
    rate = float(ctx.fps)
    available = None if info.duration is None else info.duration - clip.trimStart
    if clip.loop and info.duration and available is not None and available * rate < placed.frames:
        return _looped_source(ctx, clip, placed, skip, until, info.duration)
    if clip.loop:
        available = None  # looped, but never reaching its media's end
    # Read from frame `origin` (0 in a single pass): a pre-roll before the window, but never so
    # late that a clip holding its media's last frame would seek past that frame.
    origin = max(0, skip - math.ceil(PREROLL_SECONDS * rate))
    if available is not None:
        origin = min(origin, max(0, math.floor((available - PREROLL_SECONDS) * rate)))
    seconds = (until - origin) / rate
    # Read a frame more than needed; the graph trims to the exact count.
    read_seconds = seconds + 2 / rate
    # A looped clip whose media has no known length cannot be cut into passes: ffmpeg loops it.
    endless = clip.loop and not info.duration
    index = ctx.add_media_input(
        clip.src, loop=endless, trim_start=clip.trimStart + origin / rate, seconds=read_seconds
    )
    ctx.clip_inputs[placed.path] = index
    # Timestamps count from the seek point (ffmpeg subtracts it); `start_time=0` makes frame 0
    # the seek point itself, so a window's frames are picked from the source as a single pass
    # picks them.
    chain = [f"{index}:v", filter_spec("fps", ctx.fps_text, start_time=0)]
    if available is not None and available - origin / rate < seconds + 1 / rate:
        # Shorter than its clip: hold the last frame.
        hold = seconds - (available - origin / rate) + 1
        chain.append(filter_spec("tpad", stop_mode="clone", stop_duration=hold))
    chain.append(filter_spec("trim", start_frame=(skip - origin) or None, end_frame=until - origin))
    if origin:
        chain.append(f"setpts=PTS+{origin}")
    return chain


def _looped_source(
    ctx: Invocation, clip: VideoClip, placed: PlacedClip, skip: int, until: int, duration: float
) -> list[str]:
    """A clip that loops its media: one input per pass over the media, each cut to the frames
    that pass covers (pass 0 from trimStart, the others from 0, each `duration` long), joined.

    `-stream_loop` would be simpler, but it places each pass after the previous one by the
    timestamps it happened to decode, which differ with where the input was seeked: a window
    would show a different source frame than a single pass after every wrap. Here the passes'
    frames are fixed by the plan, so every window agrees with the single pass."""
    rate = float(ctx.fps)
    preroll = math.ceil(PREROLL_SECONDS * rate)
    pieces: list[str] = []
    number, begins = 0, 0.0
    while True:
        media_start = clip.trimStart if number == 0 else 0.0
        ends = begins + duration - media_start
        first, last = round(begins * rate), min(round(ends * rate), placed.frames)
        lo, hi = max(first, skip), min(last, until)
        if lo < hi:
            origin = max(first, lo - preroll)
            seek = media_start + (origin - first) / rate
            index = ctx.add_media_input(
                clip.src, loop=False, trim_start=seek, seconds=(hi - origin + 2) / rate
            )
            chain = [
                filter_spec("fps", ctx.fps_text, start_time=0),
                # A pass whose media is a frame short of its share (rounding): hold its last frame.
                filter_spec("tpad", stop_mode="clone", stop=2),
                filter_spec("trim", start_frame=(lo - origin) or None, end_frame=hi - origin),
            ]
            pieces.append(ctx.graph.add([f"{index}:v"], chain))
        if last >= min(until, placed.frames):
            break
        number, begins = number + 1, ends
    tb = f"{ctx.fps.denominator}/{ctx.fps.numerator}"
    joined = [filter_spec("concat", n=len(pieces), v=1, a=0)] if len(pieces) > 1 else []
    # The passes' frames, numbered in the clip's own time (the joins' timestamps are concat's).
    label = ctx.graph.add(pieces, [*joined, f"settb={tb}", f"setpts=N+{skip}" if skip else "setpts=N"])
    return [label]


def _still_frame(
    ctx: Invocation, clip: ImageClip, bw: int, bh: int, pad_contain: bool, tints: list[ColorClip]
) -> str:
    """The image decoded once, fitted to its box, with folded tints composed over it."""
    info = ctx.media(clip.src)
    index = ctx.add_input(ctx.resolved(clip.src).path, *ctx.decoder_limits(clip.src))
    fit = clip.fit
    if clip.kenBurns is not None and fit == Fit.CONTAIN:
        fit = Fit.COVER  # a pan/zoom needs picture everywhere in its box
    chain = ([] if info.is_still else ["trim=end_frame=1"]) + _fit_filters(fit, bw, bh, pad_contain)
    if not pad_contain:
        chain.append("format=yuva420p" if info.has_alpha else "format=yuv420p")
    label = ctx.graph.add([f"{index}:v"], chain)
    return _compose_tints(ctx, label, tints, bw, bh)


def _compose_tints(ctx: Invocation, label: str, tints: list[ColorClip], bw: int, bh: int) -> str:
    for tint in tints:
        color = filter_spec(
            "color", c=f"{tint.color}@{format_number(tint.opacity)}", s=f"{bw}x{bh}", r=1, d=1
        )
        layer = ctx.graph.add([], [color, "format=yuva420p"])
        label = ctx.graph.add([label, layer], ["overlay=shortest=1", "format=yuv420p"])
    return label


def _zoompan(
    ctx: Invocation, kb: KenBurns, frames: int, bw: int, bh: int, skip: int = 0, until: int = 0
) -> str:
    """The move over the clip's `frames`, emitting its frames [skip, until) (all by default):
    zoompan counts its output frames (`on`) from 0, so the window's offset is added to it."""
    last = max(frames - 1, 1)
    counter = f"(on+{skip})" if skip else "on"
    progress = f"{counter}/{last}"
    zoom = f"{format_number(kb.zoomStart)}+{format_number(kb.zoomEnd - kb.zoomStart)}*{progress}"
    # Position within the spare width/height: centred, drifting by pan over the clip.
    x = f"(iw-iw/zoom)*(0.5+{format_number(kb.panX / 2)}*(2*{progress}-1))"
    y = f"(ih-ih/zoom)*(0.5+{format_number(kb.panY / 2)}*(2*{progress}-1))"
    count = (until or frames) - skip
    return filter_spec("zoompan", z=zoom, x=x, y=y, d=count, s=f"{bw}x{bh}", fps=ctx.fps_text)
