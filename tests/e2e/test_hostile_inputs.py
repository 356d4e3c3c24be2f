"""Hostile inputs through the chart-installed operator: real TTSJobs and RenderJobs that point at
what a render pod can reach and a tenant must not (the pod's service-account token and other
local files, cloud metadata, the API server, the kubelet, another namespace's Service, loopback in
every numeric spelling, a redirect out of an allowed host, a playlist disguised as media).

Each case ends refused at ``kubectl apply`` (the CRD's schema) or ``Failed`` with reason
``InputForbidden`` after exactly one attempt (the pod exits 2, which the Job does not retry);
no status, log line or output holds the token's or /etc/passwd's bytes; and the operator and the
node keep running. The release allows one private address, the test S3 server at the bridge
gateway (support.reelkube_cluster.input_sets), so a redirect starts from there.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.media import png_bomb
from support.reelkube_cluster import (
    CREDENTIALS,
    RELEASE,
    SYSTEM_NS,
    Cluster,
    get_resource,
    host_s3_client,
    operator_release,
    tenant_namespace,
    wait_for_resource,
)
from support.webhooks import WebhookReceiver

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TERMINAL = ("Succeeded", "Failed", "Canceled")
TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# What must never appear: /etc/passwd's first line, a JWT's header (every service-account token
# starts so), and the metadata service's answer (its listing names these; no URL here does).
SECRET_MARKERS = ("root:x:0:0", "eyJhbGciOi", "ami-id", "instance-id")
HLS_PLAYLIST = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://{TOKEN}\n#EXT-X-ENDLIST\n"
CONCAT_LIST = "ffconcat version 1.0\nfile /etc/passwd\nfile http://169.254.169.254/latest/meta-data/\n"
SMALL_POD = {"cpu": "200m", "memory": "512Mi"}
"""Each forbidden case's pod: enough to start and refuse its input. At the chart's default
(1500m) one case's pod ran at a time on the 2-core test node, 15 cases one after another (64 s);
at 200m nine run side by side (38 s; a pod's requests are its limits). A test with one render
keeps the default: at 200m it takes twice as long."""


def render_job(name: str, src: str, kind: str = "image") -> dict[str, Any]:
    """A RenderJob whose one clip reads ``src`` (retries allowed: none may happen)."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": {
            "timeline": {
                "width": 160, "height": 96, "fps": 10, "duration": 1,
                "tracks": [{"clips": [{"type": kind, "src": src, "start": 0, "duration": 1}]}],
            },
            "output": {"format": "mp4", "codec": "h264", "preset": "ultrafast"},
            "retries": 3,
        },
    }  # fmt: skip


def reel(name: str, background: str) -> dict[str, Any]:
    """A captioned reel (a template prop, not a timeline clip) with ``background``."""
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": {
            "template": "captioned-reel",
            "props": {"title": "x", "backgroundUrl": background},
            "retries": 3,
        },
    }


def tts_job(name: str, script: str) -> dict[str, Any]:
    return {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "TTSJob",
        "metadata": {"name": name},
        "spec": {"script": script, "retries": 3},
    }


@pytest.fixture(scope="module")
def bucket(cluster: Cluster) -> str:
    """A fresh bucket holding the disguised playlists and a PNG bomb."""
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    client = host_s3_client(cluster)
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="disguised/playlist.mp4", Body=HLS_PLAYLIST.encode())
    client.put_object(Bucket=name, Key="disguised/concat.mp4", Body=CONCAT_LIST.encode())
    # 30,000 x 30,000 pixels: 2.5 GiB once decoded, under 4 MiB as sent.
    client.put_object(Bucket=name, Key="bombs/bomb.png", Body=png_bomb(30_000, 30_000))
    return name


@pytest.fixture(scope="module")
def release(cluster: Cluster, project_images: dict[str, str], bucket: str) -> Iterator[None]:
    with operator_release(cluster, bucket):
        yield


@pytest.fixture(scope="module")
def tenant(cluster: Cluster, release: None) -> Iterator[str]:
    with tenant_namespace(cluster, "tenant") as name:
        yield name


@pytest.fixture(scope="module")
def redirector(cluster: Cluster, webhook_receiver_factory: Any) -> WebhookReceiver:
    """An HTTP server at the allowed gateway address whose every answer redirects to metadata."""
    gateway = urlsplit(cluster.s3_endpoint).hostname or ""
    receiver: WebhookReceiver = webhook_receiver_factory(host=gateway)
    receiver.default_status = 302
    return receiver


REFUSED_AT_APPLY = {
    "token-file-url": tts_job("token-file-url", f"file://{TOKEN}"),
    "token-path": tts_job("token-path", TOKEN),
    "passwd-file-url": render_job("passwd-file-url", "file:///etc/passwd"),
    "passwd-path": render_job("passwd-path", "/etc/passwd"),
    "ftp-scheme": render_job("ftp-scheme", "ftp://example.com/clip.mp4", kind="video"),
}


@pytest.mark.parametrize("name", sorted(REFUSED_AT_APPLY))
def test_local_files_and_unknown_schemes_are_refused_at_apply(
    cluster: Cluster, tenant: str, name: str
) -> None:
    manifest = {**REFUSED_AT_APPLY[name]}
    manifest["metadata"] = {"name": name, "namespace": tenant}
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert proc.returncode != 0, f"{name} was accepted"
    assert "spec." in proc.stderr and "should match" in proc.stderr, proc.stderr
    plural = "ttsjobs" if manifest["kind"] == "TTSJob" else "renderjobs"
    assert get_resource(cluster, plural, tenant, name) is None


def forbidden_cases(cluster: Cluster, bucket: str, redirector: WebhookReceiver) -> dict[str, dict[str, Any]]:
    """Everything the schema lets through and the pod's input policy must refuse."""
    redirect = f"{redirector.url}/start.jpg"
    # The gateway is allowed (it serves S3); a node reached at that same address would make the
    # kubelet case allowed too, and the case meaningless.
    assert cluster.node_ip != redirector.host, "the node's address is the allowed gateway"
    return {
        "passwd-escape": render_job("passwd-escape", "../../../../../../etc/passwd"),
        "token-escape": tts_job("token-escape", f"../../../../..{TOKEN}"),
        "metadata-v4": reel("metadata-v4", "http://169.254.169.254/latest/meta-data/"),
        "metadata-v6": render_job("metadata-v6", "http://[fd00:ec2::254]/latest/meta-data/"),
        "metadata-script": tts_job("metadata-script", "http://169.254.169.254/latest/user-data"),
        "api-server": render_job("api-server", "https://kubernetes.default.svc/api/v1/secrets"),
        "kubelet": render_job("kubelet", f"https://{cluster.node_ip}:10250/pods"),
        "other-namespace": render_job(
            "other-namespace", f"http://{RELEASE}-metrics.{SYSTEM_NS}.svc.cluster.local:8000/metrics"
        ),
        "decimal-loopback": render_job("decimal-loopback", "http://2130706433/"),
        "octal-loopback": render_job("octal-loopback", "http://0177.0.0.1/"),
        "mapped-loopback": render_job("mapped-loopback", "http://[::ffff:127.0.0.1]/"),
        "dns-loopback": render_job("dns-loopback", "http://localhost./image.jpg"),
        "redirect-out": render_job("redirect-out", redirect),
        "hls-as-mp4": render_job("hls-as-mp4", f"s3://{bucket}/disguised/playlist.mp4", kind="video"),
        "concat-as-mp4": render_job("concat-as-mp4", f"s3://{bucket}/disguised/concat.mp4", kind="video"),
    }


def test_hostile_inputs_fail_at_once_with_input_forbidden(
    cluster: Cluster, tenant: str, bucket: str, redirector: WebhookReceiver
) -> None:
    redirector.respond_with(*[(302, {"Location": "http://169.254.169.254/latest/meta-data/"})] * 3)
    cases = forbidden_cases(cluster, bucket, redirector)
    for name, manifest in cases.items():
        manifest["metadata"] = {"name": name, "namespace": tenant}
        manifest["spec"]["resources"] = SMALL_POD
        cluster.apply(manifest)
    report = []
    for name, manifest in cases.items():
        plural = "ttsjobs" if manifest["kind"] == "TTSJob" else "renderjobs"
        body = wait_for_resource(
            cluster,
            plural,
            tenant,
            name,
            lambda b: (b.get("status") or {}).get("phase") in TERMINAL,
            timeout=600,
        )
        status = body["status"]
        report.append(f"{name}: {status['phase']}/{status.get('reason')}: {status.get('message')}")
        assert (status["phase"], status.get("reason")) == ("Failed", "InputForbidden"), (name, status)
        assert status.get("attempts") == 1, f"{name}: a forbidden input is not retried"
        assert not status.get("outputs"), name
        pods = cluster.kubectl_json("-n", tenant, "get", "pods", "-l", f"job-name={status['jobName']}")[
            "items"
        ]
        assert len(pods) == 1, f"{name}: {len(pods)} pods"
        text = json.dumps(status) + cluster.kubectl("-n", tenant, "logs", pods[0]["metadata"]["name"]).stdout
        for marker in SECRET_MARKERS:
            assert marker not in text, f"{name}: {marker!r} leaked"
    print("\n".join(report))
    # The redirect was followed no further than its first hop, at the allowed address.
    assert [r.path for r in redirector.requests] == ["/start.jpg"]


def test_a_10_hour_request_is_refused_at_apply_naming_the_cap(cluster: Cluster, tenant: str) -> None:
    manifest = render_job("ten-hours", "unused")
    manifest["metadata"] = {"name": "ten-hours", "namespace": tenant}
    manifest["spec"]["timeline"].update(duration=36_000)
    manifest["spec"]["timeline"]["tracks"] = [
        {"clips": [{"type": "color", "color": "#336699", "start": 0, "duration": 36_000}]}
    ]
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert proc.returncode != 0, "a 10-hour render was accepted"
    cap = r"spec\.timeline\.duration 36000(\.0)?s is over the cap maxDurationSeconds=3600"
    assert re.search(cap, proc.stderr), proc.stderr
    assert get_resource(cluster, "renderjobs", tenant, "ten-hours") is None


def test_a_png_bomb_fails_at_once_with_input_too_large(cluster: Cluster, tenant: str, bucket: str) -> None:
    manifest = render_job("png-bomb", f"s3://{bucket}/bombs/bomb.png")
    manifest["metadata"] = {"name": "png-bomb", "namespace": tenant}
    cluster.apply(manifest)
    body = wait_for_resource(
        cluster,
        "renderjobs",
        tenant,
        "png-bomb",
        lambda b: (b.get("status") or {}).get("phase") in TERMINAL,
        timeout=300,
    )
    status = body["status"]
    assert (status["phase"], status.get("reason")) == ("Failed", "InputTooLarge"), status
    assert "30000x30000 pixels" in status["message"] and "maxPixels" in status["message"], status
    assert status.get("attempts") == 1 and not status.get("outputs"), status


def test_a_webhook_to_metadata_is_refused_and_the_render_still_succeeds(
    cluster: Cluster, tenant: str
) -> None:
    manifest = render_job("hooked", "unused")
    manifest["metadata"] = {"name": "hooked", "namespace": tenant}
    manifest["spec"]["timeline"]["tracks"] = [
        {"clips": [{"type": "color", "color": "#336699", "start": 0, "duration": 1}]}
    ]
    manifest["spec"]["webhook"] = {
        "url": "http://169.254.169.254/latest/meta-data/?token=tenant-secret",
        "events": ["succeeded"],
    }
    cluster.apply(manifest)
    body = wait_for_resource(
        cluster,
        "renderjobs",
        tenant,
        "hooked",
        lambda b: ((b.get("status") or {}).get("webhook") or {}).get("state") == "Failed",
        timeout=300,
    )
    webhook = body["status"]["webhook"]
    assert body["status"]["phase"] == "Succeeded" and webhook["attempts"] == 0
    assert "refused by the destination policy" in webhook["message"] and "metadata" in webhook["message"]
    assert "tenant-secret" not in webhook["message"]


def test_the_operator_and_the_node_keep_running(cluster: Cluster, tenant: str) -> None:
    deployment = cluster.kubectl_json("-n", SYSTEM_NS, "get", "deployment", RELEASE)
    assert deployment["status"].get("availableReplicas") == deployment["spec"]["replicas"]
    pods = cluster.kubectl_json("-n", SYSTEM_NS, "get", "pods", "-l", "app.kubernetes.io/name=reelkube")[
        "items"
    ]
    assert pods and all(
        sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", [])) == 0 for p in pods
    )
    node = cluster.kubectl_json("get", "node", cluster.node_name)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"


def test_no_secret_reaches_a_log_an_event_or_a_status(cluster: Cluster, tenant: str) -> None:
    """After every hostile case above: the S3 secret key, the webhook URL's token and the bytes the
    cases aimed at appear in none of the operator's logs, the render pods' logs, the namespace's
    Events or the resources' statuses."""
    texts = {}
    for namespace in (SYSTEM_NS, tenant):
        for pod in cluster.kubectl_json("-n", namespace, "get", "pods")["items"]:
            name = pod["metadata"]["name"]
            logs = cluster.kubectl("-n", namespace, "logs", name, "--all-containers", check=False)
            texts[f"logs {namespace}/{name}"] = logs.stdout + logs.stderr
    texts["events"] = json.dumps(cluster.kubectl_json("-n", tenant, "get", "events")["items"])
    for plural in ("renderjobs", "ttsjobs"):
        items = cluster.kubectl_json("-n", tenant, "get", plural)["items"]
        assert items or plural == "ttsjobs"
        texts[plural] = json.dumps([item.get("status") for item in items])
    assert any("InputForbidden" in text for text in texts.values())  # the texts are the right ones
    secrets = (*SECRET_MARKERS, CREDENTIALS["AWS_SECRET_ACCESS_KEY"], "tenant-secret")
    leaks = [f"{where}: {secret!r}" for where, text in texts.items() for secret in secrets if secret in text]
    assert not leaks, leaks
