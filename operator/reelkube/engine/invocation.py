"""The ffmpeg invocation being planned: what the planner's parts (layers, text, subtitles,
soundtrack) add to while `build_plan` walks the timeline, before it becomes a `RenderPlan`.

An invocation renders the frame window `[first, last)` of the timeline (a single pass is the
window `[0, total_frames)`). The graph keeps the timeline's clock: every stream carries the
timestamps it has in a single pass, so time-based expressions (text fades, slides, enable
windows, subtitles) need no offset, and only the final video chain moves the window to 0."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from reelkube.engine.filtergraph import FilterGraph, format_number
from reelkube.engine.probe import MediaInfo, ResolvedInput
from reelkube.errors import InputError


@dataclass
class Invocation:
    """One ffmpeg invocation under construction: the canvas, the graph being built, the `-i`
    inputs and the files the graph will read."""

    width: int
    height: int
    fps: Fraction
    total_frames: int
    workdir: Path
    inputs: Mapping[str, ResolvedInput]
    graph: FilterGraph = field(default_factory=FilterGraph)
    input_args: list[list[str]] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)
    clip_inputs: dict[str, int] = field(default_factory=dict)
    """`-i` index of each video clip by its path, so its own audio can be mixed too."""
    first: int = 0
    """The window's first frame on the timeline."""
    last: int | None = None
    """The frame after the window's last one (None: the timeline's end)."""

    @property
    def end(self) -> int:
        """The frame after the window's last one."""
        return self.total_frames if self.last is None else self.last

    @property
    def window_frames(self) -> int:
        """How many frames the window holds."""
        return self.end - self.first

    def in_window(self, start: int, end: int) -> bool:
        """Whether frames `[start, end)` share at least one frame with the window."""
        return start < self.end and end > self.first

    @property
    def fps_text(self) -> str:
        """The rate as ffmpeg reads it (`30`, `30000/1001`)."""
        return str(self.fps.numerator) if self.fps.denominator == 1 else f"{self.fps}"

    def seconds(self, frames: int) -> float:
        """Frames at the output rate, in seconds."""
        return float(frames / self.fps)

    def resolved(self, src: str) -> ResolvedInput:
        """The fetched input for `src` (fetch_inputs must have run for every src)."""
        try:
            return self.inputs[src]
        except KeyError as exc:
            raise InputError(f"input {src!r} was not fetched before planning") from exc

    def media(self, src: str) -> MediaInfo:
        info = self.resolved(src).info
        if info is None:
            raise InputError(f"input {src!r} has no probed media facts")
        return info

    def add_input(self, path: Path, *options: str) -> int:
        """Add `[options] -i path`; returns the input's index."""
        self.input_args.append([*options, "-i", str(path)])
        return len(self.input_args) - 1

    def add_media_input(self, src: str, *, loop: bool, trim_start: float, seconds: float) -> int:
        """Add the fetched `src`, read for `seconds` from `trim_start` (looped when `loop`);
        returns the input's index."""
        options: list[str] = []
        if loop:
            options += ["-stream_loop", "-1"]
        if trim_start > 0:
            options += ["-ss", format_number(trim_start)]
        options += ["-t", format_number(seconds)]
        return self.add_input(self.resolved(src).path, *self.decoder_limits(src), *options)

    def decoder_limits(self, src: str) -> list[str]:
        """`-max_pixels` for `src`'s decoder when its input carries the limit: a frame over it is
        never decoded, even when the stream changes its picture size after the frames probed."""
        limit = self.resolved(src).max_pixels
        return ["-max_pixels", str(limit)] if limit else []

    def add_file(self, name: str, content: str) -> Path:
        """Register a text file for the graph to read; written by `RenderPlan.write_files`."""
        path = self.workdir / name
        self.files[path] = content
        return path
