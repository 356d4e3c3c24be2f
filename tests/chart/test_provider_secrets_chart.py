"""The chart's `stock.pexels` and `speech.openai`: the Secret names reach the operator, the render
pod's environment takes the keys from those Secrets, and the code in the pod reads them where it
looks (the Pexels client, the OpenAI-compatible speech client)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.chart.test_chart import CHART, find, helm, helm_binary, needs_helm, template

from reelkube.api.provider_secrets import PEXELS_API_KEY_ENV, SPEECH_API_KEY_ENV
from reelkube.api.ttsjob import OpenAISpeech
from reelkube.controller.job_manifests import build_job
from reelkube.controller.settings import settings_from_env
from reelkube.scenes.brief import StockSpec
from reelkube.scenes.stock import PexelsClient, stock_provider
from reelkube.speech.openai_speech import OpenAISpeechClient
from support.resources import render_job

pytestmark = needs_helm
__all__ = ["helm_binary"]  # the fixture needs_helm names


def render_pod_env(*sets: str) -> list[dict[str, Any]]:
    """The render container's environment of a Job the operator configured by the chart builds."""
    container = find(template(*sets), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    settings = settings_from_env({e["name"]: e["value"] for e in container["env"]})
    return build_job(render_job(), settings)["spec"]["template"]["spec"]["containers"][0]["env"]


def as_the_pod_sees_it(env: list[dict[str, Any]], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """What the kubelet gives the container: values, and Secret keys that exist (optional refs
    to a missing Secret or key are left out)."""
    seen: dict[str, str] = {}
    for entry in env:
        if "value" in entry:
            seen[entry["name"]] = entry["value"]
        elif ref := entry.get("valueFrom", {}).get("secretKeyRef"):
            assert ref["optional"] is True, entry
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is not None:
                seen[entry["name"]] = value
    return seen


def test_without_secrets_no_key_reaches_the_render_pod() -> None:
    env = render_pod_env()
    names = {e["name"] for e in env}
    assert PEXELS_API_KEY_ENV not in names and SPEECH_API_KEY_ENV not in names
    with pytest.raises(Exception, match="stock.pexels.secretName") as caught:
        stock_provider(StockSpec())
    assert getattr(caught.value, "reason", None) == "StockNotEnabled"


def test_the_pexels_key_comes_from_the_named_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    env = render_pod_env(
        "stock.pexels.secretName=pexels-key",
        "stock.pexels.secretKey=token",
        "stock.pexels.url=http://pexels.test",
    )
    [entry] = [e for e in env if e["name"] == PEXELS_API_KEY_ENV]
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "pexels-key", "key": "token", "optional": True}
    # The pod's code reads what the chart mapped.
    pod = as_the_pod_sees_it(env, {"pexels-key": {"token": "pk-123"}})
    for name, value in pod.items():
        monkeypatch.setenv(name, value)
    client = stock_provider(StockSpec())
    assert isinstance(client, PexelsClient)
    assert client.api_key == "pk-123" and client.base_url == "http://pexels.test"


def test_the_speech_key_and_its_api_root_come_from_the_chart() -> None:
    env = render_pod_env("speech.openai.secretName=speech", "speech.openai.url=https://tts.example.com/v1")
    [entry] = [e for e in env if e["name"] == SPEECH_API_KEY_ENV]
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "speech", "key": "apiKey", "optional": True}
    pod = as_the_pod_sees_it(env, {"speech": {"apiKey": "sk-456"}})
    client = OpenAISpeechClient.from_env(OpenAISpeech(), environ=pod)
    assert client.base_url == "https://tts.example.com/v1" and client.api_key == "sk-456"
    # A resource naming another server gets no key from this installation.
    elsewhere = OpenAISpeechClient.from_env(OpenAISpeech(baseUrl="https://evil.example.com/v1"), environ=pod)
    assert elsewhere.api_key is None


def test_the_operator_itself_holds_no_key() -> None:
    docs = template("stock.pexels.secretName=pexels-key", "speech.openai.secretName=speech")
    container = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert all("valueFrom" not in e or "secretKeyRef" not in e["valueFrom"] for e in container["env"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REELKUBE_STOCK_PEXELS_SECRET"] == "pexels-key"
    assert env["REELKUBE_SPEECH_OPENAI_SECRET"] == "speech"


@pytest.mark.parametrize(
    "bad", ["stock.pexels.secretName=Not_A_Name", "speech.openai.url=ftp://tts", "stock.pexels.secretKey=a b"]
)
def test_the_schema_refuses_bad_values(bad: str) -> None:
    proc = helm("template", "reelkube", str(CHART), "--set", bad, check=False)
    assert proc.returncode != 0, bad
    assert "schema" in proc.stderr.lower() or "values don't meet" in proc.stderr.lower(), proc.stderr
