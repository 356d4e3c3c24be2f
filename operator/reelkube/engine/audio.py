"""The soundtrack: every audio source placed on the timeline and mixed once.

Each source (audio clips, and video clips with a volume) is trimmed, looped, faded, delayed to
its start and padded to the whole timeline, so that every stream spans the same samples; then
ducking (`sidechaincompress` keyed by the named clip) and one `amix` with `normalize=0`, so
that volumes mean what they say. Mixing once avoids AAC priming gaps between segments.
"""

from __future__ import annotations

from reelkube.api.timeline import AudioClip, VideoClip
from reelkube.engine.filtergraph import filter_spec, format_number
from reelkube.engine.invocation import Invocation
from reelkube.engine.placement import PlacedClip
from reelkube.errors import SpecError

SAMPLE_RATE = 48_000


def build_soundtrack(ctx: Invocation, placed_clips: list[PlacedClip]) -> str | None:
    """Add the audio graph; returns the label of the mixed soundtrack (None: no audio at all)."""
    total_samples = round(ctx.seconds(ctx.total_frames) * SAMPLE_RATE)
    streams: dict[str, str] = {}  # clip path -> label of its timeline-long stream
    ids: dict[str, str] = {}
    ducking: list[tuple[PlacedClip, str]] = []
    for placed in placed_clips:
        clip = placed.clip
        if isinstance(clip, AudioClip):
            label = _audio_clip_source(ctx, placed, clip, total_samples)
            if clip.id:
                ids[clip.id] = placed.path
            if clip.duckUnder:
                ducking.append((placed, clip.duckUnder))
        elif isinstance(clip, VideoClip) and clip.volume > 0:
            if not ctx.media(clip.src).has_audio:
                continue
            index = ctx.clip_inputs.get(placed.path)
            if index is None:
                # A soundtrack planned without the video (mixed once for a chunked render):
                # read the clip's media as its video layer reads it in a single pass.
                seconds = ctx.seconds(placed.frames) + 2 / float(ctx.fps)
                index = ctx.add_media_input(
                    clip.src, loop=clip.loop, trim_start=clip.trimStart, seconds=seconds
                )
            chain = _shape(ctx, placed, clip.volume, clip.fadeIn, clip.fadeOut, total_samples)
            label = ctx.graph.add([f"{index}:a"], chain)
        else:
            continue
        streams[placed.path] = label
    if not streams:
        return None

    keyed: dict[str, list[PlacedClip]] = {}
    for placed, key in ducking:
        if key not in ids:
            raise SpecError(f"spec.timeline.{placed.path}.duckUnder: no audio clip has id {key!r}")
        keyed.setdefault(ids[key], []).append(placed)
    for key_path, ducked in keyed.items():
        copies = [ctx.graph.label("a") for _ in range(len(ducked) + 1)]
        ctx.graph.chains.append(
            f"[{streams[key_path]}]asplit={len(copies)}" + "".join(f"[{c}]" for c in copies)
        )
        streams[key_path] = copies[0]
        for placed, key_copy in zip(ducked, copies[1:], strict=True):
            compress = filter_spec(
                "sidechaincompress", threshold=0.03, ratio=8, attack=20, release=400, makeup=1
            )
            streams[placed.path] = ctx.graph.add([streams[placed.path], key_copy], [compress])

    labels = list(streams.values())
    tail = [f"atrim=end_sample={total_samples}", "asetpts=PTS-STARTPTS"]
    if len(labels) == 1:
        return ctx.graph.add(labels, tail, "aout")
    mix = filter_spec("amix", inputs=len(labels), normalize=0, duration="longest", dropout_transition=0)
    return ctx.graph.add(labels, [mix, *tail], "aout")


def _audio_clip_source(ctx: Invocation, placed: PlacedClip, clip: AudioClip, total_samples: int) -> str:
    info = ctx.media(clip.src)
    if not info.has_audio:
        raise SpecError(f"spec.timeline.{placed.path}.src: {clip.src} has no audio stream")
    # `-vn`-like: only the audio stream is mapped from this input, so video is never decoded.
    seconds = ctx.seconds(placed.frames) + 0.1
    index = ctx.add_media_input(clip.src, loop=clip.loop, trim_start=clip.trimStart, seconds=seconds)
    chain = _shape(ctx, placed, clip.volume, clip.fadeIn, clip.fadeOut, total_samples)
    return ctx.graph.add([f"{index}:a"], chain)


def _shape(
    ctx: Invocation,
    placed: PlacedClip,
    volume: float,
    fade_in: float,
    fade_out: float,
    total_samples: int,
) -> list[str]:
    length = ctx.seconds(placed.frames)
    samples = round(length * SAMPLE_RATE)
    delay_ms = round(ctx.seconds(placed.start) * 1000, 3)
    chain = [
        filter_spec("aformat", sample_fmts="fltp", sample_rates=SAMPLE_RATE, channel_layouts="stereo"),
        "asetpts=PTS-STARTPTS",
        # Pad short media with silence, then cut to the clip's exact length.
        filter_spec("apad", whole_len=samples),
        f"atrim=end_sample={samples}",
    ]
    if volume != 1:
        chain.append(filter_spec("volume", format_number(volume)))
    if fade_in > 0:
        chain.append(filter_spec("afade", t="in", st=0, d=min(fade_in, length)))
    if fade_out > 0:
        d = min(fade_out, length)
        chain.append(filter_spec("afade", t="out", st=max(0.0, length - d), d=d))
    if delay_ms > 0:
        chain.append(filter_spec("adelay", delays=format_number(delay_ms), all=1))
    chain.append(filter_spec("apad", whole_len=total_samples))
    return chain
