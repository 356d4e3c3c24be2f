"""Running a TTSJob locally: narration, encoded audio, timings and subtitles in `out_dir`.

Output names (the keys of `TTSResult.outputs`, which become `status.outputs`):

- `audio`: the first of `spec.audioFormats`; `audio-<format>` for each further format
  (`audio-mp3`, `audio-opus`, `audio-wav`);
- `timings`: the timings JSON (see `reelkube.subtitles.timings`);
- `subtitles`: the first of `spec.subtitleFormats`; `subtitles-<format>` for the others.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelkube.api.ttsjob import AudioFormat, TTSJob
from reelkube.engine.artifacts import LocalArtifact, describe_file
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ignore_progress
from reelkube.speech.loudness import CONTENT_TYPES, EXTENSIONS, encode
from reelkube.speech.narration import check_script_length, narrate, read_script
from reelkube.subtitles.files import write_subtitles

log = logging.getLogger(__name__)

SUBTITLE_CONTENT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "ass": "text/x-ssa"}


@dataclass
class TTSResult:
    """What a TTSJob produced, by output name."""

    outputs: dict[str, LocalArtifact] = field(default_factory=dict)
    duration: float = 0.0
    """Length of the narration in seconds."""
    sentences: int = 0
    word_timing_source: str = "estimated"
    loudness_lufs: float | None = None
    """Integrated loudness reached, as measured by ffmpeg's R128 meter."""
    seconds: float = 0.0
    """Wall time of the whole job."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (`reelkube tts --json`)."""
        return {
            "outputs": {name: a.as_dict() for name, a in self.outputs.items()},
            "duration": round(self.duration, 6),
            "sentences": self.sentences,
            "wordTimingSource": self.word_timing_source,
            "loudnessLufs": self.loudness_lufs,
            "wallSeconds": round(self.seconds, 3),
        }


def run_tts_job(
    job: TTSJob,
    out_dir: Path,
    *,
    base_dir: Path,
    on_progress: ProgressCallback = ignore_progress,
    policy: InputPolicy | None = None,
) -> TTSResult:
    """Narrate `job.spec` into `out_dir` (files named after the resource) and describe the files.

    `spec.script` and a `spec.voice.model` path are read under `policy` (default: the local one).

    Raises SpecError for a bad voice or a script over `maxScriptChars`, InputError subclasses
    when the script cannot be fetched, RenderFailed when Piper or ffmpeg fails.
    """
    started = time.monotonic()
    spec = job.spec
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec.text is not None:
        text = spec.text
        check_script_length(text, spec.maxScriptChars, "spec.text")
    else:
        assert spec.script is not None  # the model requires one of text or script
        with tempfile.TemporaryDirectory(prefix="reelkube-script-") as workdir:
            text = read_script(
                spec.script,
                max_chars=spec.maxScriptChars,
                workdir=Path(workdir),
                base_dir=base_dir,
                limits=spec.inputLimits,
                storage=spec.storage,
                policy=policy,
            )
    stem = job.metadata.name
    narration = narrate(
        text,
        spec.voice,
        out_dir,
        loudness_lufs=spec.loudnessLufs,
        base_dir=base_dir,
        stem=stem,
        on_progress=on_progress,
        policy=policy,
    )
    result = TTSResult(
        duration=narration.duration,
        sentences=len(narration.timings.sentences),
        word_timing_source=narration.timings.word_timing_source,
        loudness_lufs=narration.loudness.output_lufs,
    )
    for position, audio_format in enumerate(dict.fromkeys(spec.audioFormats)):
        path = out_dir / f"{stem}.{EXTENSIONS[audio_format]}"
        if audio_format != AudioFormat.WAV:
            encode(narration.wav, audio_format, path)
        name = "audio" if position == 0 else f"audio-{audio_format.value}"
        result.outputs[name] = describe_file(path, CONTENT_TYPES[audio_format])
    if AudioFormat.WAV not in spec.audioFormats:
        narration.wav.unlink()
    result.outputs["timings"] = describe_file(narration.timings_path, "application/json")
    subtitle_files = write_subtitles(
        narration.timings,
        list(dict.fromkeys(spec.subtitleFormats)),
        out_dir,
        stem=stem,
        style=spec.captionStyle,
    )
    for position, (subtitle_format, path) in enumerate(subtitle_files.items()):
        name = "subtitles" if position == 0 else f"subtitles-{subtitle_format.value}"
        result.outputs[name] = describe_file(path, SUBTITLE_CONTENT_TYPES[subtitle_format.value])
    result.seconds = time.monotonic() - started
    log.info(
        "event=tts_done resource=%s/%s duration=%.2f sentences=%d words=%s lufs=%.2f seconds=%.2f outputs=%s",
        job.metadata.namespace,
        job.metadata.name,
        result.duration,
        result.sentences,
        result.word_timing_source,
        result.loudness_lufs if result.loudness_lufs is not None else float("nan"),
        result.seconds,
        ",".join(result.outputs),
    )
    return result
