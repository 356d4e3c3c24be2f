"""The fault-injection run's own checks, without the cluster: the receiver that verifies each
webhook with the Standard Webhooks reference library as it arrives, and the kwok stages the
lost-node fault runs (every stage of the cluster's kwok but ``pod-complete``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.chaos.fleet import WEBHOOK_SECRET, VerifyingReceiver, received, valid_signature
from tests.chaos.kwok_node import stages_without_completion

from reelkube.api.common import WebhookSpec
from reelkube.webhooks import deliver, event_id, event_payload
from support.webhooks import WebhookReceiver

UID = "0a1b2c3d-0000-4000-8000-00000000c4a0"


@pytest.fixture
def verifying_receiver() -> Iterator[VerifyingReceiver]:
    receiver = VerifyingReceiver().start()
    yield receiver
    receiver.stop()


def _send(url: str, clock: float | None = None, secret: bytes = WEBHOOK_SECRET) -> None:
    payload = event_payload("RenderJob", "chaos", "r0", UID, "Succeeded", {"phase": "Succeeded"})
    now = clock if clock is not None else time.time()
    result = deliver(
        WebhookSpec(url=url), "succeeded", payload, secret=secret,
        delivery_id=event_id(UID, "succeeded"), clock=lambda: now,
    )  # fmt: skip
    assert result.state == "Delivered"


def test_a_delivery_signed_now_is_valid_on_arrival_and_later(verifying_receiver: VerifyingReceiver) -> None:
    _send(verifying_receiver.url + "/chaos/r0")
    ((request, verdict),) = received(verifying_receiver)
    assert verdict is None
    assert valid_signature(request.headers, request.body)


def test_a_delivery_signed_ten_minutes_ago_is_refused_on_arrival_but_its_signature_matches(
    verifying_receiver: VerifyingReceiver,
) -> None:
    """The library's 5-minute window: a retry that reused its first signature would be refused."""
    _send(verifying_receiver.url + "/chaos/r0", clock=time.time() - 600)
    ((request, verdict),) = received(verifying_receiver)
    assert verdict is not None and "too old" in verdict
    assert valid_signature(request.headers, request.body)


def test_a_delivery_signed_with_another_secret_is_refused_both_ways(
    verifying_receiver: VerifyingReceiver,
) -> None:
    _send(verifying_receiver.url + "/chaos/r0", secret=b"not-the-chaos-secret")
    ((request, verdict),) = received(verifying_receiver)
    assert verdict is not None and "signature" in verdict
    assert not valid_signature(request.headers, request.body)


def test_a_plain_receiver_is_checked_by_signature_when_read() -> None:
    receiver = WebhookReceiver().start()
    try:
        _send(receiver.url + "/chaos/r0")
        _send(receiver.url + "/chaos/r0", secret=b"not-the-chaos-secret")
        assert [verdict for _, verdict in received(receiver)] == [None, "bad signature"]
    finally:
        receiver.stop()


STAGES = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  next:
    statusTemplate: |
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  next:
    statusTemplate: |
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  next:
    delete: true
"""


def test_the_lost_node_stages_are_the_clusters_without_pod_complete_and_unchanged() -> None:
    kept = stages_without_completion(STAGES)
    documents = kept.split("---\n")
    assert [d.split("name: ", 1)[1].split("\n", 1)[0] for d in documents] == [
        "node-initialize",
        "pod-ready",
        "pod-delete",
    ]
    assert "phase: Succeeded" not in kept
    # The templates are copied as written, not re-serialized.
    assert "      {{ range .spec.containers }}\n      - name: {{ .name | Quote }}\n" in kept


def test_stages_that_are_not_kwoks_fast_set_are_refused() -> None:
    with pytest.raises(ValueError, match="pod-complete"):
        stages_without_completion(STAGES.replace("name: pod-complete", "name: pod-finish"))
