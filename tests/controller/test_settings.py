"""Settings parsing from the chart's environment variables."""

from __future__ import annotations

import pytest

from reelkube.api.kinds import PodResources
from reelkube.controller.settings import OperatorSettings, settings_from_env


def test_defaults_from_an_empty_environment() -> None:
    settings = settings_from_env({})
    assert settings == OperatorSettings()
    assert settings.watch_namespaces == () and settings.max_running_jobs == 0


def test_every_variable_is_read() -> None:
    settings = settings_from_env(
        {
            "REELKUBE_RENDERER_IMAGE": "r:1",
            "REELKUBE_IMAGE_PULL_POLICY": "Never",
            "REELKUBE_DEFAULT_RESOURCES": (
                '{"RenderJob": {"cpu": "3", "memory": "4Gi", "ephemeralStorage": "20Gi"}}'
            ),
            "REELKUBE_STORAGE_ENDPOINT": "http://s3:9000",
            "REELKUBE_STORAGE_BUCKET": "renders",
            "REELKUBE_STORAGE_PREFIX": "p",
            "REELKUBE_STORAGE_PATH_STYLE": "false",
            "REELKUBE_STORAGE_CREDENTIALS_SECRET": "creds",
            "REELKUBE_PRESIGN_EXPIRY_SECONDS": "3600",
            "REELKUBE_GPU_NODE_SELECTOR": '{"gpu": "yes"}',
            "REELKUBE_GPU_TOLERATIONS": '[{"key": "nvidia.com/gpu", "operator": "Exists"}]',
            "REELKUBE_GPU_RUNTIME_CLASS": "nvidia",
            "REELKUBE_MAX_RUNNING_JOBS": "7",
            "REELKUBE_MAX_RUNNING_TTS": "3",
            "REELKUBE_MAX_RUNNING_PER_NAMESPACE": "2",
            "REELKUBE_STALL_SECONDS": "120",
            "REELKUBE_JOB_TTL_SECONDS": "60",
            "REELKUBE_WATCH_NAMESPACES": "a, b,,",
            "REELKUBE_METRICS_PORT": "0",
        }
    )
    assert settings.renderer_image == "r:1" and settings.image_pull_policy == "Never"
    assert settings.default_resources["RenderJob"] == PodResources("3", "4Gi", "20Gi")
    assert settings.storage.endpoint_url == "http://s3:9000" and settings.storage.bucket == "renders"
    assert settings.storage.path_style is False and settings.storage.credentials_secret == "creds"
    assert settings.storage.presign_expiry_seconds == 3600
    assert (
        settings.gpu_node_selector == {"gpu": "yes"}
        and settings.gpu_tolerations[0]["key"] == "nvidia.com/gpu"
    )
    assert settings.gpu_runtime_class == "nvidia"
    assert settings.max_running_jobs == 7 and settings.job_ttl_seconds == 60
    assert settings.max_running_tts == 3 and settings.max_running_per_namespace == 2
    assert settings.stall_seconds == 120 and settings_from_env({}).stall_seconds == 600
    assert settings.cluster_limit("RenderJob") == 7 and settings.cluster_limit("TTSJob") == 3
    assert settings.watch_namespaces == ("a", "b") and settings.metrics_port == 0


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("REELKUBE_MAX_RUNNING_JOBS", "many", "must be an integer"),
        ("REELKUBE_MAX_RUNNING_JOBS", "-1", ">= 0"),
        ("REELKUBE_MAX_RUNNING_TTS", "-1", ">= 0"),
        ("REELKUBE_MAX_RUNNING_PER_NAMESPACE", "-2", ">= 0"),
        ("REELKUBE_STALL_SECONDS", "-1", ">= 0"),
        ("REELKUBE_GPU_TOLERATIONS", "[{", "not valid JSON"),
        ("REELKUBE_STORAGE_PATH_STYLE", "maybe", "true or false"),
        ("REELKUBE_PRESIGN_EXPIRY_SECONDS", "5", "at least 60"),
        ("REELKUBE_DEFAULT_RESOURCES", "[]", "JSON object"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as info:
        settings_from_env({name: value})
    assert name in str(info.value)
