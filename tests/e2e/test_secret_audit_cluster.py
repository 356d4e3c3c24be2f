"""No secret in anything the cluster tests wrote: the issue's "a search of every log line, Event
and status written during the end-to-end run finds no webhook secret, S3 secret key or token".

This module runs after every other test of the session (tests/support/cluster.py orders it last,
with ``-n 0`` and inside pytest-xdist's cluster group alike) and searches what
support.secret_audit captured from the session's first cluster test on:

Covered
- every Event (core and events.k8s.io) and every RenderJob/TTSJob write, status included, as the
  apiserver's audit log holds them (request and response bodies), even when the namespace, the
  Event or the resource is gone by now;
- every container log line of every pod the kubelet ran (the operator's, the render and TTS pods',
  the chart's storage), kept by hard links from the session's first cluster test on, even when
  the pod, its Job or its namespace was deleted;
- the cluster components' logs (apiserver, kubelet, ...) and the S3 server's access log, from
  their size at the start on; the ``*.log`` files in each cluster test's ``tmp_path`` (the
  operator processes some modules run on the host log there); each cluster test's captured
  output.

Searched for: the S3 keys the suite uses, every value of every Secret written during the run (the
webhook secrets of each module, the chart's generated storage keys; base64 and the key inside a
``whsec_`` secret too), and any service-account token (a JWT).

Not covered
- a pod whose log file the kubelet created and deleted within one keeper interval (0.5 s): the
  test prints how many started pods left no kept log;
- what the operator's in-process runners log below the captured level, and anything written
  outside this session (run alone, the module has nothing to search and skips, saying so);
- reads: a secret that only a GET would show (the audit policy logs writes).
"""

from __future__ import annotations

import pytest

from support.cluster import Cluster
from support.reelkube_cluster import CREDENTIALS
from support.secret_audit import KnownSecret, audit_log_files, audit_plugin, find_leaks

pytestmark = pytest.mark.cluster

RUNS_AFTER_EVERY_CLUSTER_TEST = True

SUITE_SECRETS = [KnownSecret(CREDENTIALS["AWS_SECRET_ACCESS_KEY"], "the suite's S3 secret key")]
"""Searched even if no Secret holding it was written in the window."""


def test_no_secret_in_a_log_an_event_or_a_status_the_run_wrote(
    cluster: Cluster, request: pytest.FixtureRequest
) -> None:
    plugin = audit_plugin(request.config)
    if plugin is None or plugin.capture.started is None or plugin.cluster_tests == 0:
        pytest.skip(
            "NOTHING SEARCHED: no other cluster test ran before this one in this session, so "
            "nothing was captured. Run it after the cluster modules, in the same pytest run "
            "(the default run orders it last)."
        )
    audit_files = audit_log_files(plugin.capture.cluster_dir / "audit")
    assert audit_files, (
        f"the apiserver keeps no audit log under {plugin.capture.cluster_dir / 'audit'}: "
        "tests/cluster/up.sh restarts it with --audit-policy-file"
    )
    captured = plugin.capture.collect()
    # A capture that holds nothing after other cluster tests ran is broken, not clean.
    assert captured.audit_events > 0, f"{plugin.cluster_tests} cluster tests ran, no write was audited"
    assert not captured.started_pods or captured.pod_log_files > 0, (
        f"{len(captured.started_pods)} pods started, no container log was kept"
    )

    secrets = [*SUITE_SECRETS, *captured.secrets]
    leaks = find_leaks(captured.texts, secrets)
    missed = captured.started_pods - captured.kept_pods
    print(
        f"\nsecret audit: {plugin.cluster_tests} cluster tests; searched {len(captured.texts)} texts "
        f"({sum(map(len, (t for _, t in captured.texts))) / 1e6:.1f} MB): {captured.event_writes} Event "
        f"writes and {captured.status_writes} status writes audited, {captured.pod_log_files} container "
        f"log files of {len(captured.kept_pods)} pods kept ({len(missed)} started pods left no kept log"
        f"{': ' + ', '.join(sorted(missed)[:5]) if missed else ''}); {len(secrets)} secret values "
        f"and any JWT; {len(leaks)} found"
    )
    assert not leaks, "\n".join(str(leak) for leak in leaks[:50])
