"""Planning: a Timeline and an OutputSpec become ONE ffmpeg invocation (pure, no media touched).

The graph: a canvas (the background colour, or the bottom layer itself when it is an opaque,
full-frame, whole-timeline layer), each media layer overlaid in track order, text and subtitles
drawn straight onto the canvas, then the output's scaling and pixel format; the soundtrack is
mixed once beside it. Text and subtitles are written as files (`RenderPlan.files`), never
spliced into the graph.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from reelkube.api.output import STILL_FORMATS, Format, OutputSpec, output_length_error
from reelkube.api.timeline import Clip, SubtitlesClip, TextClip, Timeline
from reelkube.engine.audio import build_soundtrack
from reelkube.engine.encoders import choose_encoder, crf_error
from reelkube.engine.filtergraph import filter_spec
from reelkube.engine.invocation import Invocation
from reelkube.engine.placement import PlacedClip, own_media_seconds, resolve_timing
from reelkube.engine.probe import ResolvedInput
from reelkube.engine.subtitles import subtitles_filter
from reelkube.engine.text import text_filters
from reelkube.engine.visual import MediaLayer, emit_layer, fold_tints, group_layers
from reelkube.errors import OutputTooLong, SpecError


@dataclass
class RenderPlan:
    """One ffmpeg run: its argv, the files it reads that the planner made, and what it yields."""

    argv: list[str]
    output: Path
    total_frames: int
    duration: float
    width: int
    height: int
    fps: float
    encoder: str
    audio_encoder: str | None
    filter_graph: str
    files: dict[Path, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """The `src` each input file path in `argv` was fetched from (a segment's key names inputs
    by their content, not by where they lie)."""
    thumbnail: Path | None = None
    """The JPEG of one composed frame this run also writes (see `thumbnail_frame`), if any."""

    def command_line(self) -> str:
        """The command as one shell-quoted line (runnable once `write_files` has run)."""
        return shlex.join(self.argv)

    def write_files(self) -> None:
        """Write the text and subtitle files the graph reads."""
        for path, content in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")


def build_plan(
    timeline: Timeline,
    output: OutputSpec,
    inputs: Mapping[str, ResolvedInput],
    *,
    workdir: Path,
    output_path: Path,
    thumbnail: Path | None = None,
) -> RenderPlan:
    """Plan the render of `timeline` into `output_path`. `inputs` maps every clip `src` to its
    fetched, probed file. With `thumbnail` (an MP4 or WebM video), the same ffmpeg also writes
    that JPEG of the frame `thumbnail_frame` picks, from the composed frames before encoding.
    Raises SpecError for timelines that cannot be rendered."""
    return plan_window(
        timeline, output, inputs, workdir=workdir, output_path=output_path, thumbnail=thumbnail
    )


THUMBNAIL_FORMATS = (Format.MP4, Format.WEBM)
"""The formats that get a thumbnail when `output.thumbnail` asks for one."""


def wants_thumbnail(output: OutputSpec) -> bool:
    """Whether a render of `output` comes with a thumbnail (asked for, and a video)."""
    return output.thumbnail and output.format in THUMBNAIL_FORMATS


def thumbnail_path(output: OutputSpec, workdir: Path) -> Path | None:
    """Where the render's own ffmpeg writes the thumbnail (`build_plan`'s `thumbnail`), when
    `output` asks for one: in the scratch directory, new for each render, so that no JPEG of an
    earlier render can pass for this one's."""
    return workdir / "thumbnail.jpg" if wants_thumbnail(output) else None


def thumbnail_seconds(duration: float) -> float:
    """When a video's thumbnail is taken: 10% in, at least 1 s, never past the end."""
    return min(max(1.0, duration * 0.1), max(0.0, duration - 0.1))


def thumbnail_frame(frames: int, fps: Fraction) -> int:
    """The index of the thumbnail's frame: the first frame at or after `thumbnail_seconds`
    (rounded to the millisecond), the frame a seek to that time in the encoded video gives."""
    at = Fraction(f"{thumbnail_seconds(float(frames / fps)):.3f}")
    return max(0, min(frames - 1, math.ceil(at * fps)))


def plan_window(
    timeline: Timeline,
    output: OutputSpec,
    inputs: Mapping[str, ResolvedInput],
    *,
    workdir: Path,
    output_path: Path,
    window: tuple[int, int] | None = None,
    video: bool = True,
    audio: bool = True,
    thumbnail: Path | None = None,
) -> RenderPlan:
    """Plan frames `window` = (first, last) of `timeline` (None: all of them), with its video,
    its audio or both. A window's video is exactly those frames as a single pass draws them,
    encoded as a segment that starts on an IDR frame (see `reelkube.engine.chunks`). `thumbnail`:
    see `build_plan` (a whole pass only)."""
    if message := crf_error(output):
        raise SpecError(message)
    fps = Fraction(output.fps or timeline.fps).limit_denominator(1001)
    out_w, out_h = _output_size(timeline, output)

    def media_seconds(clip: Clip) -> float | None:
        src = getattr(clip, "src", None)
        info = inputs[src].info if src and src in inputs and not isinstance(clip, SubtitlesClip) else None
        return own_media_seconds(clip, info.duration if info else None)

    resolved = resolve_timing(timeline, float(fps), media_seconds)
    # Before any filter graph or ffmpeg: a 10-hour output would run until the deadline. A still
    # is one frame whatever the timeline's length.
    seconds = float(resolved.total_frames / fps)
    if output.format not in STILL_FORMATS and (
        message := output_length_error(seconds, resolved.total_frames, output)
    ):
        raise OutputTooLong(message)
    first, last = window or (0, resolved.total_frames)
    if not 0 <= first < last <= resolved.total_frames:
        raise ValueError(f"window [{first}, {last}) is not inside [0, {resolved.total_frames})")
    ctx = Invocation(
        width=timeline.width,
        height=timeline.height,
        fps=fps,
        total_frames=resolved.total_frames,
        workdir=workdir,
        inputs=inputs,
        first=first,
        last=last,
    )
    encoder = choose_encoder(output)
    segment = window is not None
    if segment and encoder.is_still:
        raise SpecError(f"spec.output.format: {output.format.value} renders in one pass, never in windows")
    sounds = [placed for track in resolved.tracks for placed in track]
    if video:
        _plan_video(ctx, output, resolved.tracks, timeline.background, out_w, out_h)
    video_label = "vout"
    if thumbnail is not None and (segment or not video or output.format not in THUMBNAIL_FORMATS):
        raise ValueError("a thumbnail is planned only for the whole pass of an MP4 or WebM video")
    if thumbnail is not None:
        _plan_thumbnail(ctx)
        video_label = "vframes"
    soundtrack = build_soundtrack(ctx, sounds) if audio and encoder.audio else None
    if not video and soundtrack is None:
        return _empty_plan(output_path, ctx, out_w, out_h, encoder.video)

    frames = 1 if encoder.is_still else ctx.window_frames
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error"]
    for args in ctx.input_args:
        argv += args
    argv += ["-filter_complex", ctx.graph.render()]
    if video:
        argv += ["-map", f"[{video_label}]"]
    if soundtrack:
        argv += ["-map", f"[{soundtrack}]"]
    if video:
        argv += _segment_args(encoder.video_args) if segment else encoder.video_args
    else:
        argv += ["-vn"]
    argv += encoder.audio_args if soundtrack else ["-an"]
    if soundtrack:
        # `-frames:v` would close the file when the last video frame is muxed and drop the audio
        # still queued behind it (0.17 s at 10 fps). `-t` ends both streams at the same time;
        # rounded down to the microsecond so frame N (pts exactly N/fps) is never included.
        micros = (Fraction(frames) / ctx.fps * 1_000_000).__floor__()
        argv += ["-t", f"{micros // 1_000_000}.{micros % 1_000_000:06d}", str(output_path)]
    else:
        argv += ["-frames:v", str(frames), str(output_path)]
    if thumbnail is not None:
        # Two frames, each written over the last (`-update 1`): see `_plan_thumbnail`.
        argv += ["-map", "[vthumb]", "-frames:v", "2", "-fps_mode", "passthrough", "-q:v", "3",
                 "-update", "1", str(thumbnail)]  # fmt: skip
    return RenderPlan(
        argv=argv,
        output=output_path,
        total_frames=frames,
        duration=float(frames / fps),
        width=out_w,
        height=out_h,
        fps=float(fps),
        encoder=encoder.video if video else "",
        audio_encoder=encoder.audio if soundtrack else None,
        filter_graph=ctx.graph.render(),
        files=dict(ctx.files),
        sources={str(resolved.path): src for src, resolved in inputs.items()},
        thumbnail=thumbnail,
    )


def _plan_video(
    ctx: Invocation,
    output: OutputSpec,
    tracks: list[list[PlacedClip]],
    background: str,
    out_w: int,
    out_h: int,
) -> None:
    """Add the video graph of the window, ending in `[vout]`."""
    ops: list[MediaLayer | PlacedClip] = []
    for track in tracks:
        ops += [op for op in group_layers(track) if not isinstance(op, PlacedClip) or _draws(op)]
    # Folded over the whole timeline, so every window composes the same layers.
    ops = fold_tints(ops, ctx)

    canvas, ops = _canvas(ctx, ops, background)
    pending: list[str] = []
    for number, op in enumerate(ops):
        if not ctx.in_window(op.start, op.end):
            continue  # numbered all the same: a window's files are named as in a single pass
        if isinstance(op, MediaLayer):
            if pending:
                canvas, pending = ctx.graph.add([canvas], pending), []
            label, x, y = emit_layer(ctx, op)
            canvas = ctx.graph.add([canvas, label], [filter_spec("overlay", x=x, y=y, eof_action="pass")])
        elif isinstance(op.clip, TextClip):
            pending += text_filters(ctx, op, number)
        elif (burn := subtitles_filter(ctx, op, number)) is not None:
            pending.append(burn)
    pending += _finish_video(ctx, output, out_w, out_h)
    if output.format == Format.GIF:
        ctx.graph.chains.append(f"[{canvas}]{','.join([*pending, 'split'])}[gif1][gif2]")
        ctx.graph.add(["gif1"], ["palettegen=stats_mode=diff"], "palette")
        ctx.graph.add(
            ["gif2", "palette"], ["paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle"], "vout"
        )
    else:
        ctx.graph.add([canvas], pending, "vout")


def _plan_thumbnail(ctx: Invocation) -> None:
    """Split `[vout]` into `[vframes]` (to the encoder) and `[vthumb]`: the frame
    `thumbnail_frame` picks, as composed, for the JPEG encoder, so that no second ffmpeg decodes
    the finished video for it. The split passes the encoder the same frames (the same bytes).

    ffmpeg 5.1 drives a graph of generated frames from its output with the oldest timestamp, and
    an output that has had no frame yet counts as the oldest: a branch holding only frame N made
    ffmpeg compose frames 0 to N before the encoder got any (measured on the example reel with
    N = 299: 1-1.8 s slower). So the branch also passes frame 0 first, both stamped after the
    video's end: once frame 0 is there, the video's output always drives, and frame N reaches
    the JPEG when the video gets to it. The JPEG muxer writes frame N over frame 0; trim ends
    the branch there."""
    at = thumbnail_frame(ctx.window_frames, ctx.fps)
    after_end = math.ceil(ctx.seconds(ctx.window_frames)) + 1
    ctx.graph.chains.append("[vout]split[vframes][vthumb0]")
    chain = [
        filter_spec("trim", end_frame=at + 1),
        filter_spec("select", f"eq(n,0)+eq(n,{at})"),
        filter_spec("setpts", f"N+{after_end}/TB"),
    ]
    ctx.graph.add(["vthumb0"], chain, "vthumb")


def _segment_args(video_args: list[str]) -> list[str]:
    """A segment's encoder arguments: the output's, with an IDR frame first (every encoder
    starts on one; said explicitly so that it holds for every encoder) and without
    `+faststart`, which the merge applies to the joined file."""
    args = list(video_args)
    if "-movflags" in args:
        at = args.index("-movflags")
        del args[at : at + 2]
    return [*args, "-force_key_frames", "expr:eq(n,0)"]


def _empty_plan(output_path: Path, ctx: Invocation, out_w: int, out_h: int, encoder: str) -> RenderPlan:
    """What an audio-only plan of a silent timeline is: nothing to run."""
    return RenderPlan(argv=[], output=output_path, total_frames=0, duration=ctx.seconds(ctx.window_frames),
                      width=out_w, height=out_h, fps=float(ctx.fps), encoder=encoder, audio_encoder=None,
                      filter_graph="")  # fmt: skip


def _draws(placed: PlacedClip) -> bool:
    return isinstance(placed.clip, TextClip | SubtitlesClip)


def _output_size(timeline: Timeline, output: OutputSpec) -> tuple[int, int]:
    """The output's size: OutputSpec overrides the timeline's; one side alone keeps the aspect."""
    width, height = output.width, output.height
    if width and not height:
        height = round(timeline.height * width / timeline.width / 2) * 2
    elif height and not width:
        width = round(timeline.width * height / timeline.height / 2) * 2
    return width or timeline.width, height or timeline.height


def _canvas(
    ctx: Invocation, ops: list[MediaLayer | PlacedClip], background: str
) -> tuple[str, list[MediaLayer | PlacedClip]]:
    """The bottom stream: the first layer itself when it covers everything, always; otherwise
    the background colour for exactly the timeline's frames."""
    first = ops[0] if ops else None
    if (
        isinstance(first, MediaLayer)
        and (first.start, first.end) == (0, ctx.total_frames)
        and first.is_opaque_full_frame(ctx)
    ):
        label, _, _ = emit_layer(ctx, first, local_time=True)
        return label, ops[1:]
    seconds = (ctx.window_frames - 0.5) / float(ctx.fps)  # exactly the window's frames
    color = filter_spec("color", c=background, s=f"{ctx.width}x{ctx.height}", r=ctx.fps_text, d=seconds)
    # At the timeline's timestamps, as every stream laid over it (see `Invocation`).
    shift = [f"setpts=PTS+{ctx.first}"] if ctx.first else []
    return ctx.graph.add([], [color, *shift]), ops


def _finish_video(ctx: Invocation, output: OutputSpec, out_w: int, out_h: int) -> list[str]:
    # A window's frames go to the encoder from timestamp 0.
    chain = ["setpts=PTS-STARTPTS"] if ctx.first else []
    if (out_w, out_h) != (ctx.width, ctx.height):
        # The timeline is laid out in its own pixels; cover the requested size with it.
        chain += [
            filter_spec("scale", out_w, out_h, force_original_aspect_ratio="increase"),
            filter_spec("crop", out_w, out_h),
        ]
    if output.format in (Format.MP4, Format.WEBM):
        chain.append("format=yuv420p")
    return chain
