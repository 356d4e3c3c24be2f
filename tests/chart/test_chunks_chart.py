"""The chart's chunked-render settings (`jobs.maxChunks`, `jobs.minChunkSeconds`,
`jobs.chunkCacheTTLSeconds`) reach the operator, shape the chunk Job it builds and reach the
chunk pods; the schema refuses values the operator would refuse."""

from __future__ import annotations

from tests.chart.test_chart import CHART, find, helm, helm_binary, needs_helm, template

from reelkube.api.pod_contract import CHUNK_CACHE_TTL_ENV
from reelkube.controller.job_manifests import build_render_job
from reelkube.controller.settings import OperatorSettings, settings_from_env
from support.resources import render_job

pytestmark = needs_helm
__all__ = ["helm_binary"]  # the fixture needs_helm names


def operator_settings(*sets: str) -> OperatorSettings:
    container = find(template(*sets), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    return settings_from_env({e["name"]: e["value"] for e in container["env"] if "value" in e})


def test_defaults_reach_the_operator() -> None:
    settings = operator_settings()
    assert (settings.max_chunks, settings.min_chunk_seconds, settings.chunk_cache_ttl_seconds) == (
        8,
        10.0,
        604800,
    )


def test_values_shape_the_chunk_job_and_its_pods() -> None:
    settings = operator_settings("jobs.maxChunks=3", "jobs.chunkCacheTTLSeconds=3600")
    job = build_render_job(render_job(output={"chunks": 12}), settings)
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 3
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env[CHUNK_CACHE_TTL_ENV] == "3600"


def test_schema_refuses_bad_chunk_values() -> None:
    for bad in (
        "jobs.maxChunks=0",
        "jobs.maxChunks=65",
        "jobs.minChunkSeconds=0",
        "jobs.chunkCacheTTLSeconds=0",
    ):
        proc = helm("template", "r", str(CHART), "--set", bad, check=False)
        assert proc.returncode != 0 and "jobs" in proc.stderr, bad
