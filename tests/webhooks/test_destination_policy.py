"""Webhook URLs under the operator's destination policy (the render pod's input rules): metadata,
loopback, private and cluster destinations are refused before anything is sent, a redirect is
never followed, and a refusal is one final Failed record naming the rule, never a retry. The
receiver is the real loopback server; "nothing sent" is read from its request log."""

from __future__ import annotations

import pytest

from reelkube.api.common import WebhookSpec
from reelkube.controller.settings import settings_from_env
from reelkube.input_policy import InputPolicy
from reelkube.webhooks import deliver

CLUSTER = InputPolicy.cluster(asset_dir=None, cluster_cidrs=["11.96.0.0/12"])
LOOPBACK_ALLOWED = InputPolicy.cluster(asset_dir=None, allowed_cidrs=["127.0.0.0/8"])


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "a cloud metadata address"),
        ("http://2130706433/hook", "a loopback address"),
        ("http://0177.0.0.1/hook", "a loopback address"),
        ("http://10.0.0.7:10250/pods", "a private address"),
        ("https://11.96.0.1/api", "cluster range 11.96.0.0/12"),
    ],
)
def test_a_forbidden_destination_fails_at_once_with_nothing_sent(url: str, rule: str) -> None:
    sleep = SleepRecorder()
    result = deliver(WebhookSpec(url=url), "succeeded", {}, secret=b"s", sleep=sleep, policy=CLUSTER)
    assert result.state == "Failed" and result.attempts == 0 and result.responseCode is None
    assert result.message is not None and result.message.startswith("refused by the destination policy: ")
    assert "spec.webhook.url" in result.message and rule in result.message
    assert sleep.delays == []


def test_the_loopback_receiver_is_refused_unless_allowed(webhook_receiver) -> None:
    hook = WebhookSpec(url=f"{webhook_receiver.url}/hook?token=s3cr3t", maxAttempts=5)
    refused = deliver(hook, "succeeded", {}, secret=None, policy=CLUSTER, sleep=SleepRecorder())
    assert refused.state == "Failed" and refused.attempts == 0
    assert "a loopback address" in (refused.message or "")
    assert "s3cr3t" not in (refused.message or "")  # the URL's query may hold a token
    assert webhook_receiver.requests == []
    delivered = deliver(hook, "succeeded", {}, secret=None, policy=LOOPBACK_ALLOWED)
    assert delivered.state == "Delivered" and len(webhook_receiver.requests) == 1


def test_a_name_resolving_to_loopback_is_refused(webhook_receiver) -> None:
    policy = InputPolicy.cluster(asset_dir=None, resolver=lambda host: ["127.0.0.1"])
    hook = WebhookSpec(url=f"http://hooks.example.com:{webhook_receiver.port}/")
    result = deliver(hook, "succeeded", {}, secret=None, policy=policy)
    assert result.state == "Failed" and "hooks.example.com resolves to a loopback address" in (
        result.message or ""
    )
    assert webhook_receiver.requests == []


def test_the_connection_goes_to_the_checked_address(webhook_receiver) -> None:
    # An allowed name: the request keeps its Host header, and reaches the address the check saw.
    policy = InputPolicy.cluster(
        asset_dir=None, allowed_hosts=["hooks.example.com"], resolver=lambda host: ["127.0.0.1"]
    )
    hook = WebhookSpec(url=f"http://hooks.example.com:{webhook_receiver.port}/in")
    result = deliver(hook, "succeeded", {}, secret=None, policy=policy)
    assert result.state == "Delivered"
    assert webhook_receiver.requests[0].header("Host") == f"hooks.example.com:{webhook_receiver.port}"


def test_a_redirect_is_never_followed_nor_retried(webhook_receiver) -> None:
    webhook_receiver.respond_with((302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    sleep = SleepRecorder()
    result = deliver(
        WebhookSpec(url=webhook_receiver.url, maxAttempts=5),
        "succeeded",
        {},
        secret=None,
        sleep=sleep,
        policy=LOOPBACK_ALLOWED,
    )
    assert (result.state, result.attempts, result.responseCode) == ("Failed", 1, 302)
    assert len(webhook_receiver.requests) == 1 and sleep.delays == []


def test_the_operator_builds_its_destination_policy_from_the_chart_values() -> None:
    settings = settings_from_env(
        {
            "REELKUBE_INPUTS_ALLOWED_HOSTS": "hooks.example.com, *.corp.example",
            "REELKUBE_INPUTS_ALLOWED_CIDRS": "172.18.0.1/32",
            "REELKUBE_INPUTS_DENIED_CIDRS": "203.0.113.0/24",
            "REELKUBE_INPUTS_CLUSTER_CIDRS": "11.96.0.0/12",
            "KUBERNETES_SERVICE_HOST": "11.200.0.1",
        }
    )
    policy = settings.inputs.destination_policy()
    assert policy.allowed_hosts == ("hooks.example.com", "*.corp.example")
    assert [str(n) for n in policy.cluster_cidrs] == ["11.96.0.0/12", "11.200.0.1/32"]
    assert not policy.allows_local_files and policy.asset_dir is None
    assert policy.check_url("http://172.18.0.1:9000/hook", "spec.webhook.url")[1] == "172.18.0.1"
    refusals = (("http://203.0.113.5/", "inputs.deniedCIDRs"), ("https://11.200.0.1/", "cluster range"))
    for url, rule in refusals:
        result = deliver(WebhookSpec(url=url), "succeeded", {}, secret=None, policy=policy)
        assert result.state == "Failed" and rule in (result.message or "")
