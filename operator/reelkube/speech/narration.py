"""Text -> narration files: the normalized WAV and its timings. Shared by TTSJob and the
narrated template; the speech comes from the voice's provider (`speech.provider`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reelkube.api.common import InputLimits, StorageSpec
from reelkube.api.status import Step
from reelkube.api.ttsjob import VoiceSpec
from reelkube.errors import InputUnreadable, SpecError
from reelkube.input_policy import InputPolicy
from reelkube.progress_events import ProgressCallback, ProgressEvent, ignore_progress
from reelkube.speech.loudness import LoudnessResult, normalize_loudness
from reelkube.speech.provider import speech_provider
from reelkube.speech.script import split_script
from reelkube.subtitles.timings import Timings

log = logging.getLogger(__name__)

SYNTHESIS_SHARE = 90.0
"""Percent of the narrating step given to Piper (the rest is loudness normalization)."""


@dataclass(frozen=True)
class NarrationFiles:
    """What `narrate` wrote."""

    wav: Path
    timings_path: Path
    timings: Timings
    loudness: LoudnessResult
    synthesis_seconds: float

    @property
    def duration(self) -> float:
        return self.timings.duration


def narrate(
    text: str,
    voice: VoiceSpec,
    out_dir: Path,
    *,
    loudness_lufs: float = -16.0,
    base_dir: Path | None = None,
    stem: str = "narration",
    on_progress: ProgressCallback = ignore_progress,
    policy: InputPolicy | None = None,
    voice_field: str = "spec.voice",
) -> NarrationFiles:
    """Split `text` into sentences, synthesize them with the voice's provider (Piper, or an
    OpenAI-compatible API: `speech.provider`), normalize the loudness and write `<stem>.wav` and
    `<stem>.timings.json` into `out_dir`. Progress is by sentences.

    A voice `model` path and a speech API's address are checked against `policy`;
    `voice_field` names the voice in a refusal."""
    sentences = split_script(text)
    if not sentences:
        raise SpecError("the script holds no text to narrate")
    on_progress(ProgressEvent(step=Step.NARRATING, percent=0.0, message=f"{len(sentences)} sentences"))
    provider = speech_provider(voice, base_dir=base_dir, policy=policy, field=voice_field)

    def sentence_done(done: int, total: int) -> None:
        on_progress(ProgressEvent(step=Step.NARRATING, percent=SYNTHESIS_SHARE * done / total))

    narration = provider.synthesize(sentences, voice, on_sentence=sentence_done)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / f"{stem}.wav"
    loudness = normalize_loudness(narration.samples, narration.sample_rate, loudness_lufs, wav)
    timings_path = narration.timings.write(out_dir / f"{stem}.timings.json")
    on_progress(ProgressEvent(step=Step.NARRATING, percent=100.0))
    return NarrationFiles(
        wav=wav,
        timings_path=timings_path,
        timings=narration.timings,
        loudness=loudness,
        synthesis_seconds=narration.synthesis_seconds,
    )


def read_script(
    location: str,
    *,
    max_chars: int,
    workdir: Path,
    base_dir: Path,
    limits: InputLimits | None = None,
    storage: StorageSpec | None = None,
    policy: InputPolicy | None = None,
) -> str:
    """The UTF-8 text of a script at a local path, http(s) URL or s3:// URI, within `max_chars`,
    fetched under `policy` (default: the local one)."""
    from reelkube.engine.inputs import fetch_one

    # Kind "subtitles": fetched under the small-file limit and not probed as media.
    fetched = fetch_one(
        location,
        "subtitles",
        workdir,
        limits or InputLimits(),
        base_dir=base_dir,
        storage=storage,
        policy=policy,
        field="spec.script",
    )
    # A UTF-8 character is at most 4 bytes: anything larger is over the limit unread.
    if fetched.size > 4 * max_chars:
        raise SpecError(f"spec.script: {location} is {fetched.size} bytes, over maxScriptChars={max_chars}")
    try:
        text = fetched.path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputUnreadable(f"spec.script: {location} is not UTF-8 text ({error.reason})") from error
    check_script_length(text, max_chars, "spec.script")
    return text


def check_script_length(text: str, max_chars: int, field: str) -> None:
    """SpecError when `text` is longer than `max_chars` characters."""
    if len(text) > max_chars:
        raise SpecError(
            f"{field}: the script has {len(text)} characters, over the limit of {max_chars} "
            "(raise maxScriptChars or shorten it)",
            reason="ScriptTooLong",
        )
