"""End to end: the chart installed with the local images, every example rendered for real.

Needs the cluster of tests/cluster (``make cluster-up``; the fixtures start it) and the images
``reelkube/renderer:dev`` and ``reelkube/operator:dev`` (built by the ``project_images``
fixture). Example assets are uploaded to the test S3 server and the examples' relative paths
rewritten to ``s3://`` URIs, since a pod does not see this checkout.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reelkube.engine.probe import probe_media
from reelkube.scenes.contact_sheet import grid, tile_size
from reelkube.templates.storyboards import STORYBOARD_PLANNERS
from support.reelkube_cluster import (
    RELEASE,
    ROOT,
    SYSTEM_NS,
    Cluster,
    get_resource,
    install_release,
    managed_jobs,
    new_bucket,
    operator_release,
    phase_is,
    tenant_namespace,
    uninstall_release,
    wait_for_resource,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

EXAMPLES = ROOT / "examples"
TERMINAL = ("Succeeded", "Failed", "Canceled")


@pytest.fixture(scope="module")
def bucket(cluster: Cluster) -> str:
    """A fresh bucket holding the examples' assets under ``examples/``."""
    assets = (path for path in (EXAMPLES / "assets").rglob("*") if path.is_file())
    return new_bucket(cluster, "e2e", {f"examples/{p.relative_to(EXAMPLES).as_posix()}": p for p in assets})


@pytest.fixture(scope="module")
def release(cluster: Cluster, project_images: dict[str, str], bucket: str) -> Iterator[None]:
    # Three renders at a time on the 2-core node (the suite's default is one; 3 x 600m and the
    # two operator replicas' 100m fill its 2 cores): the examples' pods start, fetch and upload
    # beside each other's rendering.
    with operator_release(cluster, bucket, "--set-string", "jobs.defaultResources.renderJob.cpu=600m"):
        yield


@pytest.fixture(scope="module")
def e2e_namespace(cluster: Cluster, release: None) -> Iterator[str]:
    with tenant_namespace(cluster, "e2e") as name:
        yield name


def localize(value: Any, bucket: str) -> Any:
    """Relative asset paths in an example -> s3:// URIs of the uploaded copies."""
    if isinstance(value, dict):
        return {k: localize(v, bucket) for k, v in value.items()}
    if isinstance(value, list):
        return [localize(v, bucket) for v in value]
    is_path = isinstance(value, str) and len(value) < 256 and "://" not in value and " " not in value
    if is_path and (EXAMPLES / value).is_file():
        return f"s3://{bucket}/examples/{value}"
    return value


def example_manifests(bucket: str, namespace: str) -> list[dict[str, Any]]:
    manifests = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion", "").startswith("reelkube.io/"):
                doc = localize(doc, bucket)
                doc["metadata"]["namespace"] = namespace
                manifests.append(doc)
    return manifests


TEMPLATE_SIZES = {
    "captioned-reel": (1080, 1920),
    "narrated": (1080, 1920),
    "shorts": (1080, 1920),
    "slideshow": (1920, 1080),
}
"""The templates' own frame sizes, for examples whose manifest names none."""
STILL_FORMATS = ("png", "jpeg", "gif")


def lighten(manifest: dict[str, Any]) -> None:
    """Make a RenderJob example cheaper to render in the cluster: x264's ultrafast preset, half
    the frame rate and, for a template whose size is known, half the width and height (a raw
    timeline keeps its size: its clips are placed in its pixels).

    The point here is the path through the cluster (operator, Job, pod, inputs from S3, outputs
    and status); each example as shipped, size, frame rate and encoder settings included, is
    rendered by the template tests on the host (tests/templates). On this 2-core node the
    encode is most of the test's time: ultrafast takes about 40% less CPU than veryfast, and a
    quarter of the pixels at half the frames about an eighth of the composing."""
    spec = manifest["spec"]
    output = spec.setdefault("output", {})
    if output.get("format") in STILL_FORMATS:
        return
    output["preset"] = "ultrafast"
    timeline = spec.get("timeline") or {}
    output["fps"] = (output.get("fps") or timeline.get("fps") or 30) / 2
    if timeline:
        return
    width, height = TEMPLATE_SIZES.get(spec.get("template", ""), (None, None))
    width, height = output.get("width") or width, output.get("height") or height
    if width and height:
        output["width"], output["height"] = (width // 4) * 2, (height // 4) * 2


def seconds_between(start: str | None, end: str | None) -> str:
    """``end - start`` of two status timestamps, as "12.3 s" ("?" when one is missing)."""
    if not start or not end:
        return "?"
    began, ended = (datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in (start, end))
    return f"{(ended - began).total_seconds():.1f} s"


def plural(kind: str) -> str:
    return {"RenderJob": "renderjobs", "TTSJob": "ttsjobs"}[kind]


def watch_until_terminal(
    cluster: Cluster, namespace: str, names: set[str], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Poll every resource in ``namespace``; returns each one's statuses as seen, in order."""
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = cluster.kubectl_json("-n", namespace, "get", "renderjobs.reelkube.io,ttsjobs.reelkube.io")[
            "items"
        ]
        for item in items:
            name = item["metadata"]["name"]
            if name in seen:
                seen[name].append(item.get("status") or {})
        if all(s and s[-1].get("phase") in TERMINAL for s in seen.values()):
            return seen
        time.sleep(0.25)
    unfinished = {
        n: (s[-1] if s else None) for n, s in seen.items() if not s or s[-1].get("phase") not in TERMINAL
    }
    pods = cluster.kubectl("-n", namespace, "get", "pods,jobs", "-o", "wide", check=False).stdout
    pytest.fail(
        f"not finished in {timeout}s: {json.dumps(unfinished, indent=1)[-4000:]}\n{pods}", pytrace=False
    )


def check_output(name: str, output: dict[str, Any], tmp_path: Path) -> None:
    """Download an output from its presigned URL; size, hash and media facts must match."""
    response = httpx.get(output["url"], timeout=60)
    assert response.status_code == 200, f"{name}: {output['url']} -> {response.status_code}"
    data = response.content
    assert len(data) == output["size"], name
    assert hashlib.sha256(data).hexdigest() == output["sha256"], name
    if not output["contentType"].startswith(("video/", "audio/", "image/")):
        assert data, name
        return
    path = tmp_path / f"{name}{Path(output['uri']).suffix}"
    path.write_bytes(data)
    info = probe_media(path)
    if output.get("width"):
        assert (info.width, info.height) == (output["width"], output["height"]), name
    if output.get("duration"):
        assert info.duration is not None and abs(info.duration - output["duration"]) < 0.25, name


def check_storyboard(name: str, template: str, outputs: dict[str, Any], bucket: str, tmp_path: Path) -> None:
    """A scene-based example's storyboard outputs, fetched from their presigned URLs: the plan
    (`storyboard.json`) describes the video the status lists, its library visuals come from the
    index read under the bucket's s3:// prefix, and the contact sheet (`storyboard.png`) has the
    size of one tile per scene."""
    assert {"storyboard", "storyboardSheet"} <= set(outputs), f"{name}: {sorted(outputs)}"
    plan, sheet = outputs["storyboard"], outputs["storyboardSheet"]
    assert Path(plan["uri"]).name == "storyboard.json" and Path(sheet["uri"]).name == "storyboard.png", name
    response = httpx.get(plan["url"], timeout=60)
    assert response.status_code == 200, f"{name}: {plan['url']} -> {response.status_code}"
    assert hashlib.sha256(response.content).hexdigest() == plan["sha256"], name
    storyboard = json.loads(response.content)
    video = outputs["video"]
    assert storyboard["format"] == template, name
    assert (storyboard["width"], storyboard["height"]) == (video["width"], video["height"]), name
    assert abs(storyboard["duration"] - video["duration"]) < 0.25, name
    scenes = storyboard["scenes"]
    assert scenes, name
    for scene in scenes:
        assert 0 <= scene["start"] < scene["end"] <= storyboard["duration"] + 1e-3, (name, scene)
        assert scene["visual"]["source"] in ("url", "library", "stock", "fallback"), (name, scene)
        if scene["visual"]["source"] == "library":
            # The index's relative srcs resolved against its s3:// location.
            assert scene["visual"]["src"].startswith(f"s3://{bucket}/examples/assets/library/"), (name, scene)
            assert scene["visual"]["score"] > 0 and scene["visual"]["assetId"], (name, scene)
    assert any(s["visual"]["source"] == "library" for s in scenes + storyboard.get("subjects", [])), name
    image = tmp_path / f"{name}-storyboard.png"
    response = httpx.get(sheet["url"], timeout=60)
    assert response.status_code == 200, f"{name}: {sheet['url']} -> {response.status_code}"
    image.write_bytes(response.content)
    assert hashlib.sha256(response.content).hexdigest() == sheet["sha256"], name
    width, height = tile_size(storyboard["width"], storyboard["height"])
    columns, rows = grid(len(scenes))
    info = probe_media(image)
    # The tile filter's margin and padding are 6 px (scenes/contact_sheet.py).
    assert (info.width, info.height) == (12 + columns * width + (columns - 1) * 6,
                                         12 + rows * height + (rows - 1) * 6), name  # fmt: skip


def test_every_example_renders_in_the_cluster(
    cluster: Cluster, e2e_namespace: str, bucket: str, tmp_path: Path
) -> None:
    manifests = example_manifests(bucket, e2e_namespace)
    assert len(manifests) >= 5, "the examples directory lost its manifests"
    (tmp_path / "manifests").mkdir()
    files = []
    for manifest in manifests:
        if manifest["kind"] == "RenderJob":
            lighten(manifest)
        path = tmp_path / "manifests" / f"{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest))
        files.append(str(path))
    # Submitted as a user does: `reelkube submit --wait --download` of every example at once,
    # while this test reads the statuses the client shows.
    downloads = tmp_path / "downloads"
    with (tmp_path / "submit.out").open("w") as out, (tmp_path / "submit.err").open("w") as err:
        submit = subprocess.Popen(
            [sys.executable, "-m", "reelkube.cli", "submit", *files, "-n", e2e_namespace,
             "--wait", "--download", str(downloads), "--timeout", "25m"],
            env=cluster.env, stdout=out, stderr=err, text=True,
        )  # fmt: skip
        try:
            seen = watch_until_terminal(
                cluster, e2e_namespace, {m["metadata"]["name"] for m in manifests}, timeout=1500
            )
            code = submit.wait(timeout=300)
        finally:
            if submit.poll() is None:
                submit.kill()
    printed = (tmp_path / "submit.out").read_text() + (tmp_path / "submit.err").read_text()[-3000:]
    assert code == 0, printed
    report = []
    storyboards: list[str] = []
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        final = seen[name][-1]
        assert final["phase"] == "Succeeded", f"{name}: {final.get('reason')}: {final.get('message')}"
        assert final["progress"] == 100 and final["step"] == "done"
        assert {c["type"]: c["status"] for c in final["conditions"]} == {"Ready": "True"}
        assert final["outputs"], name
        for output_name, output in final["outputs"].items():
            check_output(f"{name}-{output_name}", output, tmp_path)
            fetched = (downloads / name / Path(output["uri"]).name).read_bytes()
            assert hashlib.sha256(fetched).hexdigest() == output["sha256"], f"{name}: submit --download"
        template = manifest["spec"].get("template")
        if template in STORYBOARD_PLANNERS:
            check_storyboard(name, template, final["outputs"], bucket, tmp_path)
            storyboards.append(name)
        running = [
            s.get("progress")
            for s in seen[name]
            if s.get("phase") == "Running" and s.get("progress") is not None
        ]
        midway = [p for p in running if 0 < p < 100]
        report.append(
            f"{name}: {len(seen[name])} polls, running progress seen {sorted(set(running))}, "
            f"start to completion {seconds_between(final.get('startTime'), final.get('completionTime'))}"
        )
        duration = max((o.get("duration") or 0) for o in final["outputs"].values())
        if duration >= 5:
            assert midway, f"{name}: no progress strictly between 0 and 100 while Running: {running}"
        jobs = [
            j
            for j in managed_jobs(cluster, e2e_namespace)
            if j["metadata"]["labels"]["reelkube.io/name"] == name
        ]
        assert [j["metadata"]["name"] for j in jobs] == [final["jobName"]], name
    # Every scene-based format among the examples had its storyboard checked.
    expected = {m["metadata"]["name"] for m in manifests if m["spec"].get("template") in STORYBOARD_PLANNERS}
    assert len(expected) == len(STORYBOARD_PLANNERS) and sorted(storyboards) == sorted(expected)
    print("\n".join(report))


def test_installed_operator_creates_the_job_within_seconds(cluster: Cluster, e2e_namespace: str) -> None:
    # The chart's operator runs with its own least-privilege identity: a create it is refused
    # (e.g. a RoleBinding sent before its Role) shows up here as kopf's 60 s retry.
    manifest = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "prompt", "namespace": e2e_namespace},
        "spec": {
            "timeline": {
                "width": 64,
                "height": 64,
                "tracks": [{"clips": [{"type": "color", "duration": 1}]}],
            },
            "output": {"thumbnail": False},
        },
    }
    started = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    while not [
        j
        for j in managed_jobs(cluster, e2e_namespace)
        if j["metadata"]["labels"]["reelkube.io/name"] == "prompt"
    ]:
        assert time.monotonic() - started < 10, "no Job 10 s after apply"
        time.sleep(0.2)
    body = wait_for_resource(cluster, "renderjobs", e2e_namespace, "prompt", phase_is(*TERMINAL), timeout=180)
    assert body["status"]["phase"] == "Succeeded", body["status"]


def test_invalid_resource_is_rejected_at_apply(cluster: Cluster, e2e_namespace: str) -> None:
    both = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "both", "namespace": e2e_namespace},
        "spec": {
            "template": "static-ad",
            "timeline": {"tracks": [{"clips": [{"type": "color", "duration": 1}]}]},
        },
    }
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(both), check=False)
    assert proc.returncode != 0
    assert "give exactly one of template or timeline" in proc.stderr
    bad_crf = {**both, "metadata": {"name": "crf", "namespace": e2e_namespace}}
    bad_crf["spec"] = {"template": "static-ad", "output": {"crf": 99}}
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad_crf), check=False)
    assert proc.returncode != 0 and "spec.output.crf" in proc.stderr
    assert get_resource(cluster, "renderjobs", e2e_namespace, "both") is None


def test_missing_input_fails_with_input_not_found(cluster: Cluster, e2e_namespace: str, bucket: str) -> None:
    # An s3:// URI the pod reads with its credentials (the test S3 server refuses unsigned URLs).
    missing = f"s3://{bucket}/examples/assets/no-such-background.jpg"
    cluster.apply(
        {
            "apiVersion": "reelkube.io/v1alpha1",
            "kind": "RenderJob",
            "metadata": {"name": "missing-input", "namespace": e2e_namespace},
            "spec": {"template": "captioned-reel", "props": {"title": "Nope", "backgroundUrl": missing}},
        }
    )
    body = wait_for_resource(
        cluster, "renderjobs", e2e_namespace, "missing-input", phase_is(*TERMINAL), timeout=300
    )
    status = body["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "InputNotFound"), status
    assert "no-such-background.jpg" in status["message"]
    assert status["attempts"] == 1, "a missing input is not retried"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "InputNotFound"


@pytest.mark.faults
def test_render_survives_the_operator_being_killed(
    cluster: Cluster, e2e_namespace: str, bucket: str, tmp_path: Path
) -> None:
    reel = localize(yaml.safe_load((EXAMPLES / "captioned-reel.yaml").read_text()), bucket)
    reel["metadata"] = {"name": "survivor", "namespace": e2e_namespace}
    cluster.apply(reel)
    wait_for_resource(
        cluster,
        "renderjobs",
        e2e_namespace,
        "survivor",
        lambda b: (b.get("status") or {}).get("phase") == "Running",
        timeout=300,
        interval=0.25,
    )
    before = cluster.kubectl_json(
        "-n", SYSTEM_NS, "get", "pods", "-l", "app.kubernetes.io/component=operator"
    )["items"]
    cluster.kubectl(
        "-n",
        SYSTEM_NS,
        "delete",
        "pods",
        "-l",
        "app.kubernetes.io/component=operator",
        "--grace-period=0",
        "--force",
        "--wait=false",
    )
    body = wait_for_resource(
        cluster, "renderjobs", e2e_namespace, "survivor", phase_is(*TERMINAL), timeout=600
    )
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    assert status["progress"] == 100 and status["outputs"]["video"]["url"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}
    jobs = [
        j
        for j in managed_jobs(cluster, e2e_namespace)
        if j["metadata"]["labels"]["reelkube.io/name"] == "survivor"
    ]
    assert [j["metadata"]["name"] for j in jobs] == [status["jobName"]]
    after = cluster.kubectl_json(
        "-n", SYSTEM_NS, "get", "pods", "-l", "app.kubernetes.io/component=operator"
    )["items"]
    assert {p["metadata"]["name"] for p in after}.isdisjoint({p["metadata"]["name"] for p in before})
    check_output("survivor-video", status["outputs"]["video"], tmp_path)


def test_chart_upgrades_then_uninstalls_cleanly(cluster: Cluster, release: None, bucket: str) -> None:
    # Runs last in this module: an upgrade rolls the operator, an uninstall removes it all.
    install_release(cluster, bucket, "--set", "operator.logLevel=DEBUG")
    deployment = cluster.kubectl_json("-n", SYSTEM_NS, "get", "deployment", RELEASE)
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "DEBUG" in env.values(), env
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 2  # one standby
    uninstall_release(cluster, check=True)
    left = cluster.kubectl(
        "get", "deployment,serviceaccount,service,clusterrole,clusterrolebinding",
        "-A", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name",
    ).stdout.split()  # fmt: skip
    assert left == []
    # CRDs stay (Helm never deletes them), so users' resources and outputs are not lost.
    cluster.kubectl("get", "crd", "renderjobs.reelkube.io", "ttsjobs.reelkube.io")
