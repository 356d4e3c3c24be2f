"""The chart's ``inputs.*`` through the operator: parsed from its environment (a bad CIDR stops
the start naming the variable), passed to every render container under the pod contract's names,
and read back by the pod into the same cluster input policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelkube.api import pod_contract
from reelkube.controller.job_manifests import build_job
from reelkube.controller.settings import InputDefaults, OperatorSettings, settings_from_env
from reelkube.input_policy import InputPolicy
from support.resources import render_job, tts_job

CHART_ENV = {
    "REELKUBE_INPUTS_ALLOWED_HOSTS": "media.example.com,*.cdn.example.com",
    "REELKUBE_INPUTS_ALLOWED_CIDRS": "172.18.0.1/32",
    "REELKUBE_INPUTS_DENIED_CIDRS": "203.0.113.0/24",
    "REELKUBE_INPUTS_CLUSTER_CIDRS": "10.96.0.0/12,10.244.0.0/16",
    "REELKUBE_ASSET_DIR": "/opt/reelkube/assets",
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
}


def env_of(job: dict) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def test_inputs_are_parsed_from_the_chart_values() -> None:
    inputs = settings_from_env(CHART_ENV).inputs
    assert inputs == InputDefaults(
        allowed_hosts=("media.example.com", "*.cdn.example.com"),
        allowed_cidrs=("172.18.0.1/32",),
        denied_cidrs=("203.0.113.0/24",),
        cluster_cidrs=("10.96.0.0/12", "10.244.0.0/16"),
        asset_dir="/opt/reelkube/assets",
        api_server="10.96.0.1",
    )


def test_the_defaults_allow_nothing_and_name_the_images_asset_folder() -> None:
    inputs = settings_from_env({}).inputs
    assert inputs == InputDefaults() and inputs.asset_dir == "/opt/reelkube/assets"
    assert inputs.pod_env() == {"REELKUBE_ASSET_DIR": "/opt/reelkube/assets"}


@pytest.mark.parametrize(
    "variable",
    ["REELKUBE_INPUTS_ALLOWED_CIDRS", "REELKUBE_INPUTS_DENIED_CIDRS", "REELKUBE_INPUTS_CLUSTER_CIDRS"],
)
def test_a_bad_cidr_stops_the_operator_naming_the_variable(variable: str) -> None:
    with pytest.raises(ValueError, match=f"^{variable}: '10.0.0.0/33' is not a CIDR"):
        settings_from_env({variable: "10.0.0.0/8, 10.0.0.0/33"})


@pytest.mark.parametrize("resource", [render_job(), tts_job()], ids=["RenderJob", "TTSJob"])
def test_every_render_container_gets_the_inputs_under_the_pod_contracts_names(resource: object) -> None:
    settings = OperatorSettings(inputs=settings_from_env(CHART_ENV).inputs)
    env = env_of(build_job(resource, settings))  # type: ignore[arg-type]
    assert env[pod_contract.INPUTS_ALLOWED_HOSTS_ENV] == "media.example.com,*.cdn.example.com"
    assert env[pod_contract.INPUTS_ALLOWED_CIDRS_ENV] == "172.18.0.1/32"
    assert env[pod_contract.INPUTS_DENIED_CIDRS_ENV] == "203.0.113.0/24"
    assert env[pod_contract.INPUTS_CLUSTER_CIDRS_ENV] == "10.96.0.0/12,10.244.0.0/16"
    assert env[pod_contract.ASSET_DIR_ENV] == "/opt/reelkube/assets"
    # The pod sees its own API server address; the operator's is not passed on.
    assert "KUBERNETES_SERVICE_HOST" not in env


def test_the_pod_reads_back_the_policy_the_chart_made() -> None:
    settings = OperatorSettings(inputs=settings_from_env(CHART_ENV).inputs)
    pod_env = {**env_of(build_job(render_job(), settings)), "KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    policy = InputPolicy.from_env(pod_env)
    assert policy == InputPolicy.cluster(
        asset_dir=Path("/opt/reelkube/assets"),
        allowed_hosts=["media.example.com", "*.cdn.example.com"],
        allowed_cidrs=["172.18.0.1/32"],
        denied_cidrs=["203.0.113.0/24"],
        cluster_cidrs=["10.96.0.0/12", "10.244.0.0/16", "10.96.0.1"],
    )
    assert policy.check_url("http://172.18.0.1:9000/bucket/clip.mp4", "spec.src")[1] == "172.18.0.1"
