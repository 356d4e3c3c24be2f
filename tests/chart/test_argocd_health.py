"""The Argo CD health check (charts/reelkube/argocd-health.lua), run by a real Lua interpreter."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.tools import require_tool

SCRIPT = Path(__file__).resolve().parents[2] / "charts" / "reelkube" / "argocd-health.lua"
LUA = next((shutil.which(n) for n in ("lua5.4", "lua5.3", "lua5.1", "lua") if shutil.which(n)), None)


@pytest.fixture(autouse=True)
def lua_interpreter() -> str:
    """The Lua interpreter; missing, these tests are skipped (failed in CI, where install-deps adds it)."""
    return require_tool(
        LUA, "no Lua interpreter on PATH: apt-get install lua5.4 for the Argo CD health tests"
    )


def lua_literal(value: Any) -> str:
    """A Lua expression for a JSON-like Python value (None keys are left out, as in JSON->Lua)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for byte in value.encode():
            char = chr(byte)
            out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        items = [f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    raise TypeError(type(value))


def health(resource: dict[str, Any]) -> tuple[str, str]:
    """(status, message) as Argo CD would compute them."""
    assert LUA is not None
    harness = (
        f"obj = {lua_literal(resource)}\n"
        f"local hs = dofile({lua_literal(str(SCRIPT))})\n"
        'io.write(hs.status, "\\n", hs.message or "")\n'
    )
    proc = subprocess.run([LUA, "-"], input=harness, capture_output=True, text=True, timeout=10, check=False)
    assert proc.returncode == 0, proc.stderr
    status, _, message = proc.stdout.partition("\n")
    return status, message


def resource(kind: str = "RenderJob", generation: int = 1, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "reel", "namespace": "media", "generation": generation},
        "spec": {"template": "captioned-reel"},
    }
    if status:
        body["status"] = status
    return body


def test_new_resource_is_progressing() -> None:
    assert health(resource()) == ("Progressing", "Waiting for the operator to accept the resource")


def test_queued_and_running_are_progressing_with_detail() -> None:
    assert health(resource(phase="Queued", reason="ConcurrencyLimit", message="waiting for a free slot")) == (
        "Progressing",
        "ConcurrencyLimit: waiting for a free slot",
    )
    assert health(resource(phase="Running", step="rendering", progress=42, observedGeneration=1)) == (
        "Progressing",
        "Running rendering 42%",
    )


def test_succeeded_is_healthy_and_lists_outputs() -> None:
    outputs = {"video": {"uri": "s3://b/k.mp4"}, "thumbnail": {"uri": "s3://b/k.jpg"}}
    assert health(resource(phase="Succeeded", outputs=outputs, observedGeneration=1)) == (
        "Healthy",
        "Rendered: thumbnail, video",
    )
    assert health(resource("TTSJob", phase="Succeeded")) == ("Healthy", "Rendered")


def test_failed_and_canceled_are_degraded_with_the_cause() -> None:
    assert health(
        resource(phase="Failed", reason="InputNotFound", message="https://x/bg.jpg returned 404")
    ) == (
        "Degraded",
        "InputNotFound: https://x/bg.jpg returned 404",
    )
    assert health(resource("TTSJob", phase="Canceled")) == ("Degraded", "Canceled")


def test_stalled_condition_is_degraded() -> None:
    stalled = [{"type": "Stalled", "status": "True", "reason": "ImagePullBackOff", "message": "no image"}]
    assert health(resource(phase="Queued", conditions=stalled)) == ("Degraded", "ImagePullBackOff: no image")


def test_unobserved_generation_is_progressing() -> None:
    status, message = health(resource(generation=2, phase="Succeeded", observedGeneration=1))
    assert status == "Progressing" and "generation 2" in message


def test_text_with_quotes_and_unicode_survives() -> None:
    status, message = health(resource(phase="Failed", reason="RenderFailed", message='ffmpeg: "é" \\ bad'))
    assert (status, message) == ("Degraded", 'RenderFailed: ffmpeg: "é" \\ bad')
