"""An OpenAI-compatible `/v1/audio/speech` client: sentences -> one track, timings estimated.

The API (https://platform.openai.com/docs/api-reference/audio/createSpeech), which many
self-hosted TTS servers speak too: `POST {base}/audio/speech` with JSON `{model, input, voice,
speed, response_format}` and a bearer key; the body of the answer is the audio (wav, mp3, opus,
aac, flac, or raw 24 kHz 16-bit mono `pcm`). It says nothing about when words are spoken, so each
sentence is asked for on its own (sentence timings are then exact, from the decoded audio's
length) and its words are estimated over its voiced part (`word_timing.estimate_words`, marked
"estimated").

The key: `REELKUBE_SPEECH_API_KEY` (in the cluster, from the Secret the chart names in
`speech.openai.secretName`, see `api.provider_secrets`). It is sent only to the installation's API root,
`REELKUBE_SPEECH_URL` (default OpenAI's): a spec `baseUrl` elsewhere (a self-hosted server) gets
no key, so a tenant can never have the installation's key sent to a server of their choosing.
Every request goes to an address checked against the input policy (`PinnedTransport`).

Failures: 401/403 -> SpeechRefused (not retried: the key is wrong); other 4xx -> SpecError with
the server's message (an unknown voice or model); 429 and 5xx and broken connections are retried
(`MAX_ATTEMPTS`, honouring `Retry-After` up to `MAX_RETRY_WAIT`), then SpeechServiceFailed
(retryable: another pod may find the service back).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

from reelkube.api.provider_secrets import SPEECH_API_KEY_ENV, SPEECH_URL_ENV
from reelkube.api.ttsjob import OpenAISpeech, SpeechResponseFormat, VoiceSpec
from reelkube.errors import ReelkubeError, RenderFailed, SpecError
from reelkube.input_policy import InputPolicy
from reelkube.input_policy.pinned import PinnedTransport
from reelkube.speech.script import sentence_words
from reelkube.speech.synthesis import Narration, SentenceCallback
from reelkube.speech.word_timing import estimate_words
from reelkube.subtitles.timings import SentenceTiming, Timings, WordTiming

log = logging.getLogger(__name__)

API_KEY_ENV = SPEECH_API_KEY_ENV
URL_ENV = SPEECH_URL_ENV
DEFAULT_URL = "https://api.openai.com/v1"
SAMPLE_RATE = 24_000
"""The rate every answer is decoded to (OpenAI's own; `pcm` is always at it)."""
MAX_INPUT_CHARS = 4096
"""OpenAI's limit on `input` (sentences are far shorter: `script.MAX_SENTENCE_CHARS`)."""
MAX_ATTEMPTS = 4
MAX_RETRY_WAIT = 30.0
"""Longest wait honoured from a `Retry-After` (a longer one fails the attempt's wait at this)."""
BACKOFF_SECONDS = (1.0, 2.0, 4.0)
"""Waits between attempts when the server names none."""
MAX_AUDIO_BYTES = 64 * 1024 * 1024
"""Largest answer accepted for one sentence (minutes of wav; a sentence is seconds)."""
TIMEOUT_SECONDS = 60.0
VOICED_THRESHOLD = 0.01
"""Amplitude over which a sample counts as speech, for the span the words are spread over."""


class SpeechRefused(ReelkubeError):
    """The speech API refused the key (401/403): the installation's Secret must be fixed."""

    reason = "SpeechUnauthorized"
    retryable = False


class SpeechServiceFailed(RenderFailed):
    """The speech API kept failing (429 or 5xx after retries, or unreachable)."""

    reason = "SpeechServiceFailed"


@dataclass
class OpenAISpeechClient:
    """Synthesis through an OpenAI-compatible speech API (see the module docstring)."""

    settings: OpenAISpeech
    base_url: str
    api_key: str | None
    """Sent as a bearer token; None when `base_url` is not the installation's API root."""
    policy: InputPolicy = field(default_factory=InputPolicy.local)
    field: str = "spec.voice.openai"
    sleep: Callable[[float], None] = time.sleep
    name: str = "openai"

    @classmethod
    def from_env(
        cls,
        settings: OpenAISpeech,
        *,
        policy: InputPolicy | None = None,
        field: str = "spec.voice.openai",
        environ: dict[str, str] | None = None,
    ) -> OpenAISpeechClient:
        """The client for `settings`, with the installation's key and API root from the
        environment (`REELKUBE_SPEECH_API_KEY`, `REELKUBE_SPEECH_URL`)."""
        env = os.environ if environ is None else environ
        home = (env.get(URL_ENV, "").strip() or DEFAULT_URL).rstrip("/")
        base = (settings.baseUrl or home).rstrip("/")
        key = env.get(API_KEY_ENV, "").strip() or None
        if key is not None and base != home:
            log.info("event=speech_key_withheld base_url=%s installation_url=%s", base, home)
            key = None
        return cls(settings, base, key, policy or InputPolicy.local(), field)

    def synthesize(
        self, sentences: Sequence[str], voice: VoiceSpec, on_sentence: SentenceCallback | None = None
    ) -> Narration:
        """Each sentence asked for on its own, decoded, followed by `voice.sentenceSilence`."""
        silence = np.zeros(round(voice.sentenceSilence * SAMPLE_RATE), dtype=np.float32)
        pieces: list[np.ndarray] = []
        timings: list[SentenceTiming] = []
        cursor = 0
        started = time.monotonic()
        for index, sentence in enumerate(sentences):
            if len(sentence) > MAX_INPUT_CHARS:
                raise SpecError(
                    f"{self.field}: a sentence of {len(sentence)} characters is over the API's "
                    f"limit of {MAX_INPUT_CHARS}"
                )
            audio = self.speak(sentence) * np.float32(voice.volume)
            words = sentence_words(sentence)
            start, end = voiced_span(audio)
            spans = estimate_words(words, start, end)
            timings.append(
                SentenceTiming(
                    index=index,
                    text=sentence,
                    start=cursor / SAMPLE_RATE,
                    end=(cursor + len(audio)) / SAMPLE_RATE,
                    start_sample=cursor,
                    end_sample=cursor + len(audio),
                    words=[
                        WordTiming(word, (cursor + s) / SAMPLE_RATE, (cursor + e) / SAMPLE_RATE)
                        for word, (s, e) in zip(words, spans, strict=True)
                    ],
                    word_timing_source="estimated",
                )
            )
            pieces += [audio, silence]
            cursor += len(audio) + len(silence)
            if on_sentence is not None:
                on_sentence(index + 1, len(sentences))
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        elapsed = time.monotonic() - started
        log.info(
            "event=narration_synthesized provider=openai base_url=%s model=%s sentences=%d "
            "seconds=%.3f synthesis_seconds=%.3f",
            self.base_url,
            self.settings.model,
            len(sentences),
            len(samples) / SAMPLE_RATE,
            elapsed,
        )
        return Narration(
            samples=samples,
            timings=Timings(
                sample_rate=SAMPLE_RATE,
                total_samples=len(samples),
                sentence_silence=voice.sentenceSilence,
                sentences=timings,
            ),
            synthesis_seconds=elapsed,
        )

    def speak(self, text: str) -> np.ndarray:
        """One request: `text` as mono float32 samples at SAMPLE_RATE."""
        body = self.request_audio(text)
        audio = decode_audio(body, self.settings.responseFormat)
        if len(audio) == 0:
            raise SpeechServiceFailed(
                f"the speech API at {self.base_url} returned no audio for {text[:60]!r}"
            )
        return audio

    def request_audio(self, text: str) -> bytes:
        """POST the request, retrying 429, 5xx and broken connections; the audio bytes."""
        url = f"{self.base_url}/audio/speech"
        payload = {
            "model": self.settings.model,
            "input": text,
            "voice": self.settings.voice,
            "speed": self.settings.speed,
            "response_format": self.settings.responseFormat.value,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        host, address = self.policy.check_url(url, f"{self.field}.baseUrl")
        problem = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
            try:
                status, body, retry_after = self._post(url, host, address, payload, headers)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if status == 200:
                    return body
                message = error_message(body)
                if status in (401, 403):
                    keyless = (
                        ""
                        if self.api_key
                        else " (no key was sent: the key goes only to the installation's REELKUBE_SPEECH_URL)"
                    )
                    raise SpeechRefused(
                        f"the speech API at {self.base_url} refused the request "
                        f"(HTTP {status}: {message}){keyless}; "
                        f"check the API key in the Secret the chart maps to {API_KEY_ENV}"
                    )
                if status != 429 and status < 500:
                    raise SpecError(
                        f"{self.field}: the speech API at {self.base_url} refused the request "
                        f"(HTTP {status}: {message}); check model {self.settings.model!r} "
                        f"and voice {self.settings.voice!r}"
                    )
                problem = f"HTTP {status}: {message}"
                if retry_after is not None:
                    wait = min(retry_after, MAX_RETRY_WAIT)
            log.warning(
                "event=speech_retry base_url=%s attempt=%d of=%d problem=%r wait=%.1f",
                self.base_url, attempt, MAX_ATTEMPTS, problem, wait,
            )  # fmt: skip
            if attempt < MAX_ATTEMPTS:
                self.sleep(wait)
        rate_limited = problem.startswith("HTTP 429")
        raise SpeechServiceFailed(
            f"the speech API at {self.base_url} failed {MAX_ATTEMPTS} times ({problem})"
            + (
                "; it is rate-limiting this installation's key: lower the jobs running at once"
                if rate_limited
                else ""
            ),
            reason="SpeechRateLimited" if rate_limited else None,
        )

    def _post(
        self, url: str, host: str, address: str, payload: dict[str, object], headers: dict[str, str]
    ) -> tuple[int, bytes, float | None]:
        """(status, body up to MAX_AUDIO_BYTES, Retry-After seconds) of one POST."""
        transport = PinnedTransport(host, address)
        timeout = httpx.Timeout(TIMEOUT_SECONDS)
        with (
            httpx.Client(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("POST", url, json=payload, headers=headers) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_AUDIO_BYTES:
                    raise SpeechServiceFailed(
                        f"the speech API at {self.base_url} sent over {MAX_AUDIO_BYTES} bytes "
                        "for one sentence"
                    )
                chunks.append(chunk)
            return (
                response.status_code,
                b"".join(chunks),
                retry_after_seconds(response.headers.get("retry-after")),
            )


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` in seconds (its date form is not used by speech APIs: ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def error_message(body: bytes) -> str:
    """OpenAI's error JSON `{"error": {"message": ...}}`, else the body's start."""
    import json

    try:
        data = json.loads(body)
        message = (
            data["error"]["message"]
            if isinstance(data.get("error"), dict)
            else data.get("error") or data.get("detail")
        )
        if message:
            return str(message)[:300]
    except (ValueError, TypeError, AttributeError, KeyError):
        pass
    return body[:200].decode("utf-8", "replace").strip() or "no message"


def decode_audio(body: bytes, response_format: SpeechResponseFormat) -> np.ndarray:
    """The audio as mono float32 at SAMPLE_RATE: raw pcm and 16-bit wav at that rate directly,
    anything else through ffmpeg."""
    if response_format == SpeechResponseFormat.PCM:
        usable = len(body) - len(body) % 2
        return np.frombuffer(body[:usable], dtype="<i2").astype(np.float32) / 32768.0
    if response_format == SpeechResponseFormat.WAV:
        samples = _plain_wav(body)
        if samples is not None:
            return samples
    return _ffmpeg_decode(body, response_format)


def _plain_wav(body: bytes) -> np.ndarray | None:
    """16-bit PCM wav at SAMPLE_RATE read in Python; None for any other wav (ffmpeg's to read).
    A streamed wav's header may claim more data than came: `readframes` stops at the end."""
    try:
        with wave.open(io.BytesIO(body)) as reader:
            if reader.getsampwidth() != 2 or reader.getframerate() != SAMPLE_RATE:
                return None
            channels = reader.getnchannels()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError):
        return None
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (2 * channels)], dtype="<i2").astype(np.float32)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples / 32768.0


def _ffmpeg_decode(body: bytes, response_format: SpeechResponseFormat) -> np.ndarray:
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(command, input=body, capture_output=True, check=False)
    if result.returncode != 0:
        tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        why = " ".join(tail) or "ffmpeg failed"
        raise SpeechServiceFailed(
            f"the speech API's {response_format.value} audio could not be decoded: {why}"
        )
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)


def voiced_span(audio: np.ndarray) -> tuple[int, int]:
    """From the first to the last sample over VOICED_THRESHOLD; all of it when none is."""
    loud = np.flatnonzero(np.abs(audio) > VOICED_THRESHOLD)
    if len(loud) == 0:
        return (0, len(audio))
    return (int(loud[0]), int(loud[-1]) + 1)
