"""A local server that speaks OpenAI's published speech API, `POST /v1/audio/speech`
(https://platform.openai.com/docs/api-reference/audio/createSpeech): OpenAI cannot be reached
from the test machines, so the client is tested against this.

Request: JSON `{model, input, voice, speed?, response_format?}` with `Authorization: Bearer KEY`.
Answer: the audio itself, as OpenAI sends it: `wav` (16-bit mono at 24 kHz; with
`streamed_wav_header` the header claims the largest size, as a server streaming a wav of unknown
length writes it), `pcm` (raw 24 kHz 16-bit little-endian mono), or `mp3`, `opus`, `aac`, `flac`
(encoded with ffmpeg). Errors in OpenAI's form, `{"error": {"message", "type", "param", "code"}}`:
401 for a wrong or missing key, 400 for a bad field, and what a test queues with `fail_next`
(429 with `Retry-After`, 5xx).

The "speech" is a tone: SECONDS_PER_WORD seconds per word between PAD seconds of silence, so a
test can tell from the audio's length which sentence it is and where its words are.
"""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

API_KEY = "sk-test-speech-key"
SAMPLE_RATE = 24_000
SECONDS_PER_WORD = 0.3
PAD = 0.1
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
ENCODERS = {
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "opus": ["-c:a", "libopus", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "flac": ["-c:a", "flac", "-f", "flac"],
}


@dataclass
class PlannedFailure:
    status: int
    retry_after: str | None = None
    message: str = "planned failure"


@dataclass
class SpeechServer:
    """The running server: its API root, what it received, what it will refuse next."""

    url: str
    """API root, as a client's base URL (`http://127.0.0.1:PORT/v1`)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[PlannedFailure] = field(default_factory=list)
    require_key: bool = True
    streamed_wav_header: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (and `Retry-After`)."""
        with self.lock:
            self.failures.extend(PlannedFailure(status, retry_after) for _ in range(times))


def tone(words: int) -> np.ndarray:
    """The stand-in speech for a text of `words` words: silence, a 220 Hz tone, silence."""
    pad = np.zeros(round(PAD * SAMPLE_RATE), dtype=np.float32)
    length = round(max(1, words) * SECONDS_PER_WORD * SAMPLE_RATE)
    voiced = 0.5 * np.sin(2 * np.pi * 220 * np.arange(length) / SAMPLE_RATE).astype(np.float32)
    return np.concatenate([pad, voiced, pad])


def spoken_seconds(text: str) -> float:
    """How long the server's answer for `text` lasts."""
    return len(tone(len(text.split()))) / SAMPLE_RATE


def encode(samples: np.ndarray, response_format: str, *, streamed_header: bool = False) -> bytes:
    """The samples as the API sends them in `response_format`."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    if response_format == "pcm":
        return pcm
    if response_format == "wav":
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes(pcm)
        data = bytearray(out.getvalue())
        if streamed_header:
            data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")  # RIFF size unknown
            data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # data size unknown
        return bytes(data)
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        *ENCODERS[response_format], "pipe:1",
    ]  # fmt: skip
    return subprocess.run(command, input=pcm, capture_output=True, check=True).stdout


@contextmanager
def serve_openai_speech(
    *, require_key: bool = True, streamed_wav_header: bool = False
) -> Iterator[SpeechServer]:
    """Run the server on 127.0.0.1 until the block ends."""
    state = SpeechServer(url="", require_key=require_key, streamed_wav_header=streamed_wav_header)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with state.lock:
                state.requests.append(
                    {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
                )
                failure = state.failures.pop(0) if state.failures else None
            if self.path != "/v1/audio/speech":
                self._error(404, f"Unknown request URL: POST {self.path}", "invalid_request_error")
                return
            if state.require_key and self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._error(
                    401, "Incorrect API key provided", "invalid_request_error", code="invalid_api_key"
                )
                return
            if failure is not None:
                self._error(failure.status, failure.message, "server_error", retry_after=failure.retry_after)
                return
            problem = _check(body)
            if problem is not None:
                self._error(400, problem, "invalid_request_error")
                return
            assert isinstance(body, dict)
            response_format = body.get("response_format", "mp3")
            audio = encode(
                tone(len(str(body["input"]).split())),
                response_format,
                streamed_header=state.streamed_wav_header,
            )
            self.send_response(200)
            self.send_header(
                "Content-Type", "audio/wav" if response_format == "wav" else "application/octet-stream"
            )
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def _error(
            self,
            status: int,
            message: str,
            kind: str,
            *,
            code: str | None = None,
            retry_after: str | None = None,
        ) -> None:
            data = json.dumps(
                {"error": {"message": message, "type": kind, "param": None, "code": code}}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-speech-server", daemon=True
    ).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _check(body: Any) -> str | None:
    """OpenAI's validation of the request's fields, as the messages it sends."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    for name in ("model", "input", "voice"):
        if not body.get(name):
            return f"Missing required parameter: '{name}'."
    if body["voice"] not in ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"):
        return f"Invalid value for 'voice': {body['voice']!r}."
    if body.get("response_format", "mp3") not in FORMATS:
        return f"Invalid value for 'response_format': {body.get('response_format')!r}."
    speed = body.get("speed", 1.0)
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return f"Invalid value for 'speed': {speed!r}. Must be between 0.25 and 4.0."
    if len(str(body["input"])) > 4096:
        return "'input' is too long: at most 4096 characters."
    return None
