"""The speech provider plug-in point: who turns sentences into one track of samples and timings.

Two providers:

- `piper` (the default): Piper in the render pod, word timings from its phoneme alignments
  (`speech.synthesis`);
- `openai`: an OpenAI-compatible `/v1/audio/speech` API over HTTP (`speech.openai_speech`),
  which returns audio without timings: sentence timings come from the audio's length, word
  timings from the estimator, marked "estimated".

Both give a `Narration` (mono float32 samples, timings that match them sample for sample), so
loudness normalization, captions and the scene layer do not care which one spoke.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reelkube.api.ttsjob import SpeechProviderName, VoiceSpec
from reelkube.errors import SpecError
from reelkube.input_policy import InputPolicy
from reelkube.speech.synthesis import Narration, SentenceCallback


class SpeechProvider(Protocol):
    """Synthesizes sentences, in order, as one track with a timing per sentence and word."""

    @property
    def name(self) -> str:
        """The provider's name, as `voice.provider` spells it."""
        ...

    def synthesize(
        self, sentences: Sequence[str], voice: VoiceSpec, on_sentence: SentenceCallback | None = None
    ) -> Narration:
        """The sentences spoken one after another, `voice.sentenceSilence` seconds apart."""
        ...


@dataclass(frozen=True)
class PiperProvider:
    """Piper in this process, with the voice `voice.model` or `voice.package` names."""

    base_dir: Path | None = None
    policy: InputPolicy | None = None
    field: str = "spec.voice"
    name: str = "piper"

    def synthesize(
        self, sentences: Sequence[str], voice: VoiceSpec, on_sentence: SentenceCallback | None = None
    ) -> Narration:
        """Load the voice (once per process) and synthesize with it."""
        from reelkube.speech.synthesis import synthesize_narration
        from reelkube.speech.voice import load_voice, locate_voice

        files = locate_voice(voice, base_dir=self.base_dir, policy=self.policy, field=self.field)
        return synthesize_narration(load_voice(files), list(sentences), voice, on_sentence=on_sentence)


def speech_provider(
    voice: VoiceSpec,
    *,
    base_dir: Path | None = None,
    policy: InputPolicy | None = None,
    field: str = "spec.voice",
) -> SpeechProvider:
    """The provider `voice.provider` names. `field` names the voice in refusals; `policy` is what
    a voice model path and a speech API's address are checked against."""
    # The CRD's CEL rules say this at apply for a TTSJob; a brief's voice (props) is checked here.
    if voice.openai is not None and voice.provider != SpeechProviderName.OPENAI:
        raise SpecError(f"{field}.openai is for provider openai (set {field}.provider: openai)")
    if voice.provider == SpeechProviderName.OPENAI:
        if voice.model or voice.package:
            raise SpecError(f"{field}.model and {field}.package are Piper's: not for provider openai")
        from reelkube.speech.openai_speech import OpenAISpeechClient

        return OpenAISpeechClient.from_env(voice.openai_settings, policy=policy, field=f"{field}.openai")
    return PiperProvider(base_dir=base_dir, policy=policy, field=field)
