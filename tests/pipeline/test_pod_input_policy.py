"""The render pod fetches under the cluster's input policy, built from the environment the
operator passes (the chart's ``inputs.*``): a forbidden input fails at once (exit code 2, reason
InputForbidden, the field named, nothing of the target read), and only what the chart allows is
contacted. No cluster and no media: every case ends before ffmpeg, ffprobe or Piper would run."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inputs.servers import RecordingServer, recording_server
from reelkube.api.pod_contract import EXIT_BAD_INPUT, EXIT_FAILED, inputs_env
from reelkube.errors import (
    Canceled,
    EncoderUnavailable,
    InputError,
    InputForbidden,
    InputNotFound,
    InputRejected,
    InputTimeout,
    InputTooLarge,
    InputUnreadable,
    ReelkubeError,
    RenderFailed,
    RenderOutOfMemory,
    SpecError,
    StorageDenied,
    StorageFailed,
    UnsupportedCodec,
)
from reelkube.input_policy import ENV_ALLOWED_CIDRS, ENV_ASSET_DIR, InputPolicy
from reelkube.pipeline.pod import exit_code_for, run_in_pod
from support.resources import TTS_BODY

SECRET = b"root:x:0:0:root:/root:/bin/bash\nsecret-token-bytes\n"


@pytest.fixture
def pod_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pod's environment without the chart allowing anything; the termination log's path."""
    for name in ("REELKUBE_INPUTS_ALLOWED_HOSTS", ENV_ALLOWED_CIDRS, "REELKUBE_INPUTS_DENIED_CIDRS",
                 "REELKUBE_INPUTS_CLUSTER_CIDRS", "KUBERNETES_SERVICE_HOST"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assets = tmp_path / "assets"
    assets.mkdir()
    monkeypatch.setenv(ENV_ASSET_DIR, str(assets))
    log = tmp_path / "termination-log"
    monkeypatch.setenv("REELKUBE_TERMINATION_LOG", str(log))
    return log


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with recording_server({"secret": SECRET}) as running:
        yield running


def timeline_body(src: str, kind: str = "image") -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "hostile", "namespace": "media", "uid": "1234abcd-0000-0000-0000-000000000000"},
        "spec": {
            "timeline": {
                "width": 160, "height": 96, "fps": 10, "duration": 1,
                "tracks": [{"clips": [{"type": kind, "src": src, "start": 0, "duration": 1}]}],
            },
            "output": {"format": "mp4", "codec": "h264"},
        },
    }  # fmt: skip


def run(tmp_path: Path, body: dict[str, Any]) -> int:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(body))
    return run_in_pod(path, work_dir=tmp_path / "work", use_cluster=False)


def cause(log: Path) -> dict[str, str]:
    parsed: dict[str, str] = json.loads(log.read_text())
    return parsed


ERRORS: list[ReelkubeError] = [
    SpecError("bad"),
    InputNotFound("404"),
    InputTooLarge("big"),
    InputUnreadable("garbage"),
    InputForbidden("spec.src: file:///etc/passwd"),
    UnsupportedCodec("no encoder"),
    InputTimeout("slow"),
    InputError("500"),
    RenderFailed("ffmpeg"),
    StorageFailed("s3"),
    StorageDenied("InvalidAccessKeyId"),
    InputRejected("403"),
    RenderOutOfMemory("SIGKILL"),
    EncoderUnavailable("no NVENC"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_the_exit_code_follows_the_errors_retryable_flag(error: ReelkubeError) -> None:
    expected = EXIT_FAILED if error.retryable else EXIT_BAD_INPUT
    assert exit_code_for(error) == expected
    assert exit_code_for(Canceled("SIGTERM")) == 143


def test_a_forbidden_input_exits_2_without_a_retry() -> None:
    assert exit_code_for(InputForbidden("spec.script: /etc/passwd names a file of the render pod")) == 2


@pytest.mark.parametrize(
    "src",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "file:///var/run/secrets/kubernetes.io/serviceaccount/token",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "../../../../etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://localhost./",
    ],
)
def test_a_render_pod_refuses_hostile_inputs_with_input_forbidden(
    src: str, pod_env: Path, tmp_path: Path
) -> None:
    assert run(tmp_path, timeline_body(src)) == EXIT_BAD_INPUT
    written = cause(pod_env)
    assert written["reason"] == "InputForbidden"
    assert "image input" in written["message"] and "root:" not in written["message"]


def test_the_api_servers_address_from_the_pods_environment_is_refused(
    pod_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "11.96.0.1")  # outside RFC1918: refused as cluster
    assert run(tmp_path, timeline_body("https://11.96.0.1/api")) == EXIT_BAD_INPUT
    assert "cluster range 11.96.0.1/32" in cause(pod_env)["message"]


def test_a_ttsjob_script_naming_the_service_account_token_is_refused(pod_env: Path, tmp_path: Path) -> None:
    body = copy.deepcopy(TTS_BODY)
    body["spec"] = {"script": "/var/run/secrets/kubernetes.io/serviceaccount/token"}
    assert run(tmp_path, body) == EXIT_BAD_INPUT
    written = cause(pod_env)
    assert written["reason"] == "InputForbidden" and written["message"].startswith("spec.script: ")


def test_a_ttsjob_voice_model_outside_the_asset_folder_is_refused(pod_env: Path, tmp_path: Path) -> None:
    body = copy.deepcopy(TTS_BODY)
    body["spec"] = {"text": "Hello there.", "voice": {"model": "/etc/passwd"}}
    assert run(tmp_path, body) == EXIT_BAD_INPUT
    written = cause(pod_env)
    assert written["reason"] == "InputForbidden" and written["message"].startswith("spec.voice.model: ")


def test_a_narrated_voiceover_is_fetched_under_the_pods_policy(
    pod_env: Path, tmp_path: Path, server: RecordingServer
) -> None:
    body = timeline_body("unused")
    del body["spec"]["timeline"]
    body["spec"].update(
        template="narrated", props={"script": "Hi.", "voiceoverUrl": f"{server.url}/files/secret"}
    )
    assert run(tmp_path, body) == EXIT_BAD_INPUT
    written = cause(pod_env)
    assert written["reason"] == "InputForbidden"
    assert written["message"].startswith("spec.props.voiceoverUrl: ") and "loopback" in written["message"]
    assert server.paths == []


def test_a_loopback_server_is_contacted_only_when_the_chart_allows_it(
    pod_env: Path, tmp_path: Path, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = timeline_body(f"{server.url}/files/missing.jpg")
    assert run(tmp_path / "refused", body) == EXIT_BAD_INPUT
    assert cause(pod_env)["reason"] == "InputForbidden" and server.paths == []
    monkeypatch.setenv(ENV_ALLOWED_CIDRS, "127.0.0.0/8")
    assert run(tmp_path / "allowed", body) == EXIT_BAD_INPUT
    assert cause(pod_env)["reason"] == "InputNotFound"
    assert server.paths == ["/files/missing.jpg"]


def test_an_explicit_policy_replaces_the_environments(pod_env: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(timeline_body(str(missing))))
    code = run_in_pod(path, work_dir=tmp_path / "work", use_cluster=False, policy=InputPolicy.local())
    assert code == EXIT_BAD_INPUT and cause(pod_env)["reason"] == "InputNotFound"


def test_the_pod_contract_env_is_what_the_policy_reads() -> None:
    env = inputs_env(
        allowed_hosts=["media.example.com", "*.cdn.example.com"],
        allowed_cidrs=["203.0.113.0/24"],
        denied_cidrs=["198.51.100.0/24"],
        cluster_cidrs=["10.96.0.0/12", "10.244.0.0/16"],
        asset_dir="/srv/assets",
    )
    policy = InputPolicy.from_env(env)
    assert policy.allowed_hosts == ("media.example.com", "*.cdn.example.com")
    assert [str(n) for n in policy.allowed_cidrs] == ["203.0.113.0/24"]
    assert [str(n) for n in policy.denied_cidrs] == ["198.51.100.0/24"]
    assert [str(n) for n in policy.cluster_cidrs] == ["10.96.0.0/12", "10.244.0.0/16"]
    assert policy.asset_dir == Path("/srv/assets") and not policy.allows_local_files
    assert inputs_env() == {"REELKUBE_ASSET_DIR": "/opt/reelkube/assets"}
