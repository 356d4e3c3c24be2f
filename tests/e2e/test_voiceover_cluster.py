"""``voiceover_uploaded`` while the video still renders, on the real cluster.

The narrated example (examples/narrated.yaml: the bundled Piper voice, 1080x1920, about nine
seconds) runs in a real render pod on the real node, with the operator as a process of its own
on this machine (``support.operator_process``) and the cluster's S3 server as its storage. The
webhook receiver notes when each event arrives; when ``voiceover_uploaded`` arrives it reads
the resource's phase from the API server at that moment. The event must find the resource still
Running, its payload listing the voice-over without the video, the object in the bucket, and
``succeeded`` must come a render's length later (the gap is printed: the figure the README
quotes). A TTSJob, whose audio is its one output, still tells it before ``succeeded``.

Run under the cluster lock, one module at a time::

    flock /tmp/reelkube-cluster.lock python -m pytest -q -p no:cacheprovider -m cluster \
        tests/e2e/test_voiceover_cluster.py
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from standardwebhooks import Webhook

from support.cluster import Cluster
from support.operator_process import OperatorProcess, operator_process
from support.reelkube_cluster import (
    ROOT,
    create_storage_secret,
    ensure_kwok_ephemeral_storage,
    get_resource,
    host_s3_client,
    install_crds,
    phase_is,
    wait_for_resource,
)
from support.webhooks import WebhookReceiver

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SECRET = "whsec_" + "dm9pY2Utb3Zlci1maXJzdC10ZXN0cw=="
PREFIX = "voiceover-e2e"
MIN_GAP_SECONDS = 2.0
"""How long ``succeeded`` must come after ``voiceover_uploaded``, at least: rendering the
example's 1080x1920 video took far longer than this on the test node (see the printed gap)."""


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> None:
    install_crds(cluster)
    ensure_kwok_ephemeral_storage(cluster)


@pytest.fixture(scope="module")
def bucket(cluster: Cluster) -> str:
    name = f"voiceover-{uuid.uuid4().hex[:8]}"
    host_s3_client(cluster).create_bucket(Bucket=name)
    return name


@dataclass
class TimedReceiver(WebhookReceiver):
    """A receiver that notes when each request arrived and, for ``voiceover_uploaded``, the
    resource's phase as the API server has it at that moment (read before answering)."""

    cluster: Cluster | None = None
    namespace: str = ""
    watched: tuple[str, str] = ("renderjobs", "narrated-example")
    """The resource (plural, name) whose phase is read when the voice-over is told."""
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    """(monotonic time, event) of each request, as it arrived."""
    phase_at_voiceover: str | None = None

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        arrived = time.monotonic()
        event = str(json.loads(body or b"{}").get("event", ""))
        if event == "voiceover_uploaded" and self.cluster is not None and self.phase_at_voiceover is None:
            live = get_resource(self.cluster, self.watched[0], self.namespace, self.watched[1]) or {}
            self.phase_at_voiceover = str((live.get("status") or {}).get("phase"))
        with self._lock:
            self.arrivals.append((arrived, event))
        return super()._record(method, path, headers, body)


@pytest.fixture
def receiver(cluster: Cluster, namespace: str) -> Iterator[TimedReceiver]:
    timed = TimedReceiver(cluster=cluster, namespace=namespace)
    timed.start()
    yield timed
    timed.stop()


@contextmanager
def operator_with_storage(
    cluster: Cluster, namespace: str, bucket: str, log: Path
) -> Iterator[OperatorProcess]:
    """The operator watching ``namespace``, whose pods upload to ``bucket`` on the cluster's S3
    server (the credentials and the webhook's signing secret made in the namespace first)."""
    create_storage_secret(cluster, namespace)
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "hook", f"--from-literal=secret={SECRET}")
    with operator_process(
        cluster,
        (namespace,),
        log,
        placement="cluster",
        REELKUBE_STORAGE_ENDPOINT=cluster.s3_endpoint,
        REELKUBE_STORAGE_BUCKET=bucket,
        REELKUBE_STORAGE_PREFIX=PREFIX,
        REELKUBE_STORAGE_CREDENTIALS_SECRET="reelkube-s3",
        # The receiver listens on this machine's loopback, as the operator process does.
        REELKUBE_INPUTS_ALLOWED_CIDRS="127.0.0.0/8",
    ) as running:
        yield running


def webhook_to(receiver: WebhookReceiver) -> dict[str, Any]:
    return {
        "url": f"{receiver.url}/hooks",
        "events": ["started", "voiceover_uploaded", "succeeded", "failed"],
        "secretRef": "hook",
    }


def narrated_example(namespace: str, webhook: dict[str, Any]) -> dict[str, Any]:
    """examples/narrated.yaml as it is, in ``namespace``, with a webhook and pod resources that
    fit the test node."""
    body = yaml.safe_load((ROOT / "examples" / "narrated.yaml").read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"]["webhook"] = webhook
    body["spec"]["resources"] = {"cpu": "1500m", "memory": "2Gi", "ephemeralStorage": "2Gi"}
    body["spec"]["timeoutSeconds"] = 600
    return dict(body)


def test_voiceover_uploaded_arrives_while_the_narrated_render_is_still_running(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    bucket: str,
    receiver: TimedReceiver,
    tmp_path: Path,
) -> None:
    with operator_with_storage(cluster, namespace, bucket, tmp_path / "operator.log") as running:
        cluster.apply(narrated_example(namespace, webhook_to(receiver)))
        body = wait_for_resource(
            cluster,
            "renderjobs",
            namespace,
            "narrated-example",
            phase_is("Succeeded", "Failed", "Canceled"),
            timeout=540,
        )
        assert body["status"]["phase"] == "Succeeded", (body["status"], running.tail())
        receiver.wait_for(3, timeout=60)
        assert running.process.poll() is None, running.tail()

    events = [r.json()["event"] for r in receiver.requests]
    assert events == ["started", "voiceover_uploaded", "succeeded"], events
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)
    told = receiver.requests[1].json()

    # When it arrived, the resource was still Running, by the payload and by the API server.
    assert receiver.phase_at_voiceover == "Running", receiver.phase_at_voiceover
    assert told["phase"] == "Running", told
    assert "voiceover" in told["outputs"] and "video" not in told["outputs"], told["outputs"]
    # The object it names is in the bucket, the same bytes the finished status lists.
    voiceover = told["outputs"]["voiceover"]
    final = body["status"]["outputs"]
    assert (
        final["voiceover"]["uri"] == voiceover["uri"] and final["voiceover"]["sha256"] == voiceover["sha256"]
    )
    key = voiceover["uri"].removeprefix(f"s3://{bucket}/")
    stored = host_s3_client(cluster).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == voiceover["sha256"]

    arrived = {event: at for at, event in receiver.arrivals}
    gap = arrived["succeeded"] - arrived["voiceover_uploaded"]
    print(f"voiceover_uploaded -> succeeded arrival gap: {gap:.2f} s")
    assert gap >= MIN_GAP_SECONDS, gap
    reasons = [
        e["reason"]
        for e in cluster.kubectl_json(
            "-n", namespace, "get", "events", "--field-selector", "involvedObject.name=narrated-example"
        )["items"]
        if e.get("source", {}).get("component") == "reelkube-operator"
    ]
    assert "VoiceoverUploaded" in reasons, reasons


def test_a_ttsjobs_audio_is_told_as_its_voiceover_before_succeeded(
    cluster: Cluster,
    crds: None,
    project_images: dict[str, str],
    namespace: str,
    bucket: str,
    receiver: TimedReceiver,
    tmp_path: Path,
) -> None:
    # The audio is a TTSJob's one output, uploaded at the end: told before succeeded, as before.
    receiver.watched = ("ttsjobs", "tts-example")
    body = yaml.safe_load((ROOT / "examples" / "tts.yaml").read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"]["webhook"] = webhook_to(receiver)
    body["spec"]["resources"] = {"cpu": "1", "memory": "1Gi", "ephemeralStorage": "1Gi"}
    with operator_with_storage(cluster, namespace, bucket, tmp_path / "operator.log") as running:
        cluster.apply(body)
        done = wait_for_resource(
            cluster, "ttsjobs", namespace, "tts-example", phase_is("Succeeded", "Failed"), timeout=300
        )
        assert done["status"]["phase"] == "Succeeded", (done["status"], running.tail())
        receiver.wait_for(3, timeout=60)
    events = [r.json()["event"] for r in receiver.requests]
    assert events == ["started", "voiceover_uploaded", "succeeded"], events
    told = receiver.requests[1].json()
    assert told["outputs"]["audio"]["uri"] == done["status"]["outputs"]["audio"]["uri"]
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)
