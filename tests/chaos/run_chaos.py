"""The fault-injection run: real renders through the chart-installed operator while its parts
are killed and cut, then every resource and every webhook delivery checked; one table.

    flock /tmp/reelkube-cluster.lock make chaos          # every fault, about 30 minutes
    python tests/chaos/run_chaos.py --faults pod,oom     # some of them

It restarts cluster components (kube-apiserver, etcd) and the S3 server, so it must hold the
cluster lock for its whole run, and it is not a pytest module (not collected by the test run).
It installs the chart with the local images (tests/support/reelkube_cluster.py) and a webhook
receiver at the CNI gateway (the one private address the release lets webhooks reach), and
uninstalls the release at the end, also when the run breaks. Exit status 1 when any row is not
right. With --json the rows so far are written after each fault.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]  # support/ and tests.chaos

from tests.chaos.fleet import (  # noqa: E402
    TERMINAL,
    BatchReport,
    RenderOutcome,
    VerifyingReceiver,
    check_batch,
    create_namespace,
    in_flight,
    kill_active_operator,
    phases,
    probe_job_latency,
    tiny_render,
    utc_now,
    wait_for_leader,
    wait_for_standby,
    wait_terminal,
    wait_until_running,
)
from tests.chaos.kwok_node import ChaosKwok  # noqa: E402

from support.cluster import Cluster  # noqa: E402
from support.reelkube_cluster import (  # noqa: E402
    CLUSTER_TESTS,
    RELEASE,
    SYSTEM_NS,
    build_project_images,
    connect_cluster,
    host_s3_client,
    install_crds,
    install_release,
    wait_for_operator_rollout,
)
from support.webhooks import WebhookReceiver  # noqa: E402

CLUSTER_DIR = Path(os.environ.get("REELKUBE_CLUSTER_DIR", "/tmp/reelkube-cluster"))
PIDS = CLUSTER_DIR / "pids"
LOST_NODE = "kwok-chaos-lost-0"
WEBHOOK_WORKERS = 8
"""Threads the operator delivers webhooks on (reelkube.controller.notify.WebhookNotifier)."""
GENERIC_FAILURES = ("Failed", "BackoffLimitExceeded", "PodFailurePolicy", None)
"""Failure reasons that name no cause a user could act on."""


@dataclass
class Row:
    """One line of the table."""

    fault: str
    how_often: str
    in_flight: str
    outcome: str
    recovery: str
    ok: bool


class Run:
    """The installed release, the bucket, the receiver; one method per fault."""

    def __init__(self, cluster: Cluster, bucket: str, receiver: WebhookReceiver) -> None:
        self.cluster = cluster
        self.bucket = bucket
        self.receiver = receiver

    # --- helpers -----------------------------------------------------------------------------

    def batch(self, prefix: str, count: int, **render: Any) -> tuple[str, list[str]]:
        namespace = create_namespace(self.cluster, prefix)
        names = [f"{prefix}-{i:02d}" for i in range(count)]
        for name in names:
            url = f"{self.receiver.url}/{namespace}/{name}"
            self.cluster.apply(tiny_render(name, namespace, url, **render))
        return namespace, names

    def settle(
        self,
        namespace: str,
        names: list[str],
        timeout: float = 120,
        receiver: WebhookReceiver | None = None,
        jobs_deleted: bool = False,
    ) -> BatchReport:
        """Check the batch, giving deliveries in backoff time to arrive (at ``receiver``, by
        default the run's; ``jobs_deleted``: see BatchReport)."""
        deadline = time.monotonic() + timeout
        while True:
            report = check_batch(
                self.cluster, namespace, names, receiver or self.receiver, jobs_deleted=jobs_deleted
            )
            if not report.problems() or time.monotonic() > deadline:
                return report
            time.sleep(3)

    @staticmethod
    def verdict(
        report: BatchReport, want: str = "Succeeded", accept: Callable[[RenderOutcome], bool] | None = None
    ) -> tuple[str, bool]:
        """The outcome cell, and whether it is right: every render ``want`` (or ``accept``-ed),
        none lost, no duplicate Job, no missing, conflicting or out-of-order event, no bad
        signature."""
        phases_seen: dict[str, int] = {}
        for r in report.outcomes:
            key = f"{r.phase}" + (f"/{r.reason}" if r.reason and r.phase != "Succeeded" else "")
            phases_seen[key] = phases_seen.get(key, 0) + 1
        counts = {
            k: report.count(k)
            for k in ("lost", "duplicate_jobs", "missing_events", "conflicting_events", "out_of_order")
        }
        wrong = sum(1 for r in report.outcomes if not (accept(r) if accept else r.phase == want))
        text = (
            ", ".join(f"{n} {k}" for k, n in sorted(phases_seen.items()))
            + f"; lost {counts['lost']}, duplicate Jobs {counts['duplicate_jobs']},"
            f" missing events {counts['missing_events']}, events under 2 ids {counts['conflicting_events']},"
            f" out of order {counts['out_of_order']}, bad signatures {report.count('bad_signatures')},"
            f" repeats (same id) {report.count('duplicate_deliveries')}"
        )
        ok = wrong == 0 and not any(counts.values()) and report.count("bad_signatures") == 0
        problems = report.problems()
        if problems:
            print("   problems:\n    " + "\n    ".join(problems[:20]))
        return text, ok

    def restart_receiver(self) -> None:
        self.receiver.start()  # the same host and port: the URLs in the specs stay right

    def component_pid(self, name: str) -> int:
        return int((PIDS / f"{name}.pid").read_text().strip())

    def up(self) -> float:
        """tests/cluster/up.sh (starts what is not running); its seconds."""
        started = time.monotonic()
        subprocess.run(
            [str(CLUSTER_TESTS / "up.sh")], check=True, capture_output=True, text=True, timeout=600
        )
        return time.monotonic() - started

    def restart_component(self, name: str) -> float:
        """Stop a cluster component by its pid (SIGTERM, then SIGKILL), start it again with up.sh;
        the seconds it was away."""
        pid = self.component_pid(name)
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.up()
        return time.monotonic() - started

    # --- the faults ----------------------------------------------------------------------------

    def operator_killed(self, renders: int = 20, kills: int = 10) -> Row:
        # A minute of video under a quarter of a core at a slow preset: long enough that the kills
        # land while renders run, not after.
        namespace, names = self.batch("opkill", renders, seconds=60, preset="slower")
        wait_until_running(self.cluster, namespace, 1)
        takeovers, flights = [], []
        for i in range(kills):
            # Failover is measured from a running standby: a kill while the last one's
            # replacement is still starting measures a pod start, not a hand-over.
            wait_for_standby(self.cluster)
            flights.append(len(in_flight(self.cluster, namespace)))
            force = i % 3 == 2  # every third kill gives no grace: the Lease is not handed over
            old, killed = kill_active_operator(self.cluster, force=force)
            new = wait_for_leader(self.cluster, other_than=old, timeout=120)
            takeovers.append((time.monotonic() - killed, force))
            print(f"   {utc_now()} kill {i + 1} ({'forced' if force else 'graceful'}): {old} -> {new}"
                  f" in {takeovers[-1][0]:.1f} s, {flights[-1]} in flight")  # fmt: skip
            time.sleep(random.uniform(1, 5))
        wait_terminal(self.cluster, namespace, names, timeout=900)
        text, ok = self.verdict(self.settle(namespace, names))
        graceful = [t for t, f in takeovers if not f]
        forced = [t for t, f in takeovers if f]
        recovery = (
            f"new active after a graceful kill: median {statistics.median(graceful):.1f} s,"
            f" max {max(graceful):.1f} s; after a forced one: max {max(forced, default=0):.1f} s"
        )
        ok = ok and max(t for t, _ in takeovers) <= 15  # the failover target, forced kills too
        wait_for_standby(self.cluster)
        return Row("operator killed (active replica)", f"{kills} kills ({len(forced)} forced)",
                   f"{min(flights)}-{max(flights)} of {renders}", text, recovery, ok)  # fmt: skip

    def pod_deleted(self, count: int = 5) -> Row:
        # One render applied at a time, each just before its pod is deleted: applied together,
        # the later ones had finished before their turn came. Three minutes at a slow preset under a
        # quarter of a core: still rendering when its pod is deleted.
        namespace = create_namespace(self.cluster, "poddel")
        names = [f"poddel-{i:02d}" for i in range(count)]
        recoveries = []
        flights = []
        for name in names:
            url = f"{self.receiver.url}/{namespace}/{name}"
            self.cluster.apply(tiny_render(name, namespace, url, seconds=180, preset="slower"))
            status = self._wait_phase(namespace, name, "Running")
            job = status["jobName"]
            pods = self.cluster.kubectl_json("-n", namespace, "get", "pods", "-l", f"job-name={job}")["items"]
            running = [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"]
            flights.append(len(in_flight(self.cluster, namespace)))
            if not running:  # Running by its status, but the pod already gone or not yet up
                print(f"   {name}: no running pod to delete")
                continue
            deleted = time.monotonic()
            self.cluster.kubectl("-n", namespace, "delete", "pod", *running, "--wait=false")
            recovery = self._wait_new_pod_running(namespace, job, set(running), deleted)
            if recovery is None:
                final = phases(self.cluster, namespace)[name]
                ended = f"{final.get('phase')}/{final.get('reason')}: {final.get('message')}"
                print(f"   {name}: no retry, ended {ended}")
            else:
                recoveries.append(recovery)
        wait_terminal(self.cluster, namespace, names, timeout=600)
        report = self.settle(namespace, names)
        text, ok = self.verdict(report)
        statuses = phases(self.cluster, namespace)
        attempts = [statuses[n].get("attempts") for n in names]
        events = self.cluster.kubectl_json("-n", namespace, "get", "events")["items"]
        retried = {e["involvedObject"]["name"] for e in events if e.get("reason") == "Retry"}
        ok = ok and all((a or 0) >= 2 for a in attempts) and retried >= set(names)
        text += f"; attempts {attempts}; Retry Events for {len(retried & set(names))}/{count}"
        recovery = f"retry pod Running: max {max(recoveries, default=0):.1f} s after the delete"
        return Row("render pod deleted mid-render", f"{count} times", f"{min(flights)}-{max(flights)}", text,
                   recovery, ok)  # fmt: skip

    def receiver_down(self, outage: float = 300, renders: int = WEBHOOK_WORKERS) -> list[Row]:
        """The receiver stopped for ``outage`` seconds while a batch renders, announces and ends.

        Three rows. The batch's webhooks ask for 12 attempts (backoff 1, 2, 4 ... 60 s: the last
        attempt about 6 min after the first), so every event must arrive once the receiver is
        back, in order, once per id, each signature valid when it arrives. One render, applied
        first, keeps the CRD's default ``maxAttempts`` (5: the last attempt 15 s after the
        first): what a user who sets nothing gets, and whether ``reelkube.io/redeliver=all``
        then brings the events. One more render, applied last, posts to a second receiver that
        stays up: the operator delivers on a pool of 8 threads and a delivery waits out its
        backoff on its thread, so with 8 resources retrying, does anyone else still hear?
        """
        self.receiver.stop()
        down = time.monotonic()
        namespace = create_namespace(self.cluster, "hookdown")
        default, bystander = "hookdown-default", "hookdown-bystander"
        url = f"{self.receiver.url}/{namespace}/{default}"
        self.cluster.apply(tiny_render(default, namespace, url, seconds=5, max_attempts=None))
        # Its deliveries on a thread before the batch takes them all (else they would wait, untried,
        # until the receiver is back).
        self._wait_first_attempt(namespace, default)
        names = [f"hookdown-{i:02d}" for i in range(renders)]
        for name in names:
            self.cluster.apply(
                tiny_render(name, namespace, f"{self.receiver.url}/{namespace}/{name}", seconds=5)
            )
        other = VerifyingReceiver(host=self.receiver.host).start()
        try:
            self.cluster.apply(
                tiny_render(bystander, namespace, f"{other.url}/{namespace}/{bystander}", seconds=5)
            )
            applied = time.monotonic()
            flights = len(in_flight(self.cluster, namespace))
            heard: float | None = None
            while time.monotonic() - down < outage:
                if heard is None and other.requests:
                    heard = time.monotonic() - applied
                time.sleep(0.5)
            wait_terminal(self.cluster, namespace, [*names, default, bystander], timeout=600)
            self.restart_receiver()
            back = time.monotonic()
            report = self.settle(namespace, names, timeout=240)
            delivered = time.monotonic() - back
            if heard is None:  # still waiting for a thread: give it the settle's time
                self.settle(namespace, [bystander], timeout=120, receiver=other)
                if other.requests:
                    heard = time.monotonic() - applied  # (late by up to the settle's 3 s poll)
            bystander_report = check_batch(self.cluster, namespace, [bystander], other)
        finally:
            other.stop()
        text, ok = self.verdict(report)
        ok = ok and report.count("duplicate_deliveries") == 0  # nothing reached it twice: once per id
        how = f"{outage / 60:g} min outage; webhook.maxAttempts 12"
        recovery = f"every event delivered {delivered:.0f} s after it came back"
        rows = [Row("webhook receiver down", how, f"{flights}", text, recovery, ok)]
        rows.append(self._default_attempts_after_outage(namespace, default, down))
        by_text, by_ok = self.verdict(bystander_report)
        waited = "never" if heard is None else f"{heard:.0f} s after it was applied"
        by_ok = by_ok and heard is not None and heard < 30  # a live receiver hears within seconds
        rows.append(
            Row(
                "another receiver, up, while the first is down",
                f"1 render; {renders} renders' deliveries retrying",
                f"{flights}",
                f"its first event arrived {waited}; {by_text}",
                "-",
                by_ok,
            )
        )
        return rows

    def _default_attempts_after_outage(self, namespace: str, name: str, down: float) -> Row:
        """The default-attempts render of :meth:`receiver_down`, once the receiver is back: its
        events given up (when, after how many attempts), then asked for again."""
        report = check_batch(self.cluster, namespace, [name], self.receiver)
        missing = report.outcomes[0].missing_events
        body = self.cluster.kubectl_json("-n", namespace, "get", "renderjob", name)
        records = ((body.get("status") or {}).get("webhook") or {}).get("deliveries") or []
        failed = [r for r in records if r.get("state") == "Failed"]
        created = dt.datetime.fromisoformat(body["metadata"]["creationTimestamp"])
        last_tries = [
            dt.datetime.fromisoformat(r["lastAttemptTime"]) for r in failed if r.get("lastAttemptTime")
        ]
        gave_up = max(((t - created).total_seconds() for t in last_tries), default=float("nan"))
        outcome = (
            f"{len(records)} events recorded, {len(failed)} Failed after"
            f" {sorted({r.get('attempts') for r in failed})} attempts, the last attempt {gave_up:.0f} s after"
            f" the render was created (receiver down {time.monotonic() - down:.0f} s ago);"
            f" {len(missing)} of the due events missing once it was back ({', '.join(missing) or 'none'})"
        )
        if not missing:
            return Row("webhook receiver down, default maxAttempts", "the same outage; 1 render", "1",
                       outcome, "-", True)  # fmt: skip
        asked = time.monotonic()
        self.cluster.kubectl("-n", namespace, "annotate", "renderjob", name, "reelkube.io/redeliver=all")
        again = self.settle(namespace, [name], timeout=60)
        text, _ = self.verdict(again)
        recovery = (
            f"not without a hand: `reelkube.io/redeliver=all` delivered them {time.monotonic() - asked:.0f} s"
            f" after it was set; then {text}"
            if not again.problems()
            else f"`reelkube.io/redeliver=all` did not bring them within 60 s: {'; '.join(again.problems())}"
        )
        how = "the same outage; 1 render at the default (5)"
        return Row("webhook receiver down, default maxAttempts", how, "1", outcome, recovery, False)

    def operator_killed_receiver_down(self) -> Row:
        self.receiver.stop()
        namespace, names = self.batch("hookkill", 5, seconds=5)
        flights = len(in_flight(self.cluster, namespace))
        wait_terminal(self.cluster, namespace, names, timeout=600)
        takeovers = []
        for _ in range(2):
            old, killed = kill_active_operator(self.cluster)
            wait_for_leader(self.cluster, other_than=old)
            takeovers.append(time.monotonic() - killed)
            wait_for_standby(self.cluster)
        self.restart_receiver()
        back = time.monotonic()
        report = self.settle(namespace, names, timeout=240)
        text, ok = self.verdict(report)
        return Row("operator killed while the receiver is down", "2 kills", f"{flights}", text,
                   f"takeover max {max(takeovers):.1f} s; all events {time.monotonic() - back:.0f} s after"
                   " the receiver came back", ok)  # fmt: skip

    def s3_stopped(self, outage: float = 30) -> Row:
        namespace, names = self.batch("s3down", 6, seconds=20)
        wait_until_running(self.cluster, namespace, 2)
        flights = len(in_flight(self.cluster, namespace))
        script = str(CLUSTER_TESTS / "s3.sh")
        subprocess.run([script, "stop"], check=True, capture_output=True, timeout=60)
        time.sleep(outage)
        subprocess.run([script, "start"], check=True, capture_output=True, timeout=120)
        # A newly started test S3 server begins empty (tests/cluster/s3.sh): the bucket is gone.
        host_s3_client(self.cluster).create_bucket(Bucket=self.bucket)
        took = wait_terminal(self.cluster, namespace, names, timeout=900)
        text, ok = self.verdict(self.settle(namespace, names))
        statuses = phases(self.cluster, namespace)
        attempts = [statuses[n].get("attempts") for n in names]
        events = self.cluster.kubectl_json("-n", namespace, "get", "events")["items"]
        retries = sum(1 for e in events if e.get("reason") == "Retry")
        text += f"; attempts {attempts}; {retries} Retry Events"
        return Row("S3 server stopped during uploads", f"{outage:.0f} s, once", f"{flights}", text,
                   f"all terminal {took:.0f} s after S3 came back", ok)  # fmt: skip

    def component_restarted(self, component: str) -> Row:
        namespace, names = self.batch(component.replace("kube-", ""), 6, seconds=30)
        wait_until_running(self.cluster, namespace, 2)
        flights = len(in_flight(self.cluster, namespace))
        away = self.restart_component(component)
        acted = probe_job_latency(self.cluster, namespace, timeout=300)
        took = wait_terminal(self.cluster, namespace, names, timeout=900)
        text, ok = self.verdict(self.settle(namespace, names))
        return Row(f"{component} restarted mid-render", "once", f"{flights}", text,
                   f"away {away:.0f} s; a new Job {acted:.1f} s after it was back; all terminal {took:.0f} s",
                   ok)  # fmt: skip

    def out_of_memory(self) -> Row:
        namespace, names = self.batch("oom", 1, seconds=10, memory="24Mi", retries=3)
        wait_terminal(self.cluster, namespace, names, timeout=600)
        report = self.settle(namespace, names)
        text, _ = self.verdict(report, want="Failed")
        status = phases(self.cluster, namespace)[names[0]]
        ok = (status.get("phase"), status.get("reason"), status.get("attempts")) == (
            "Failed",
            "OutOfMemory",
            1,
        )
        message = status.get("message") or ""
        ok = ok and ("24Mi" in message or "25165824" in message) and not report.problems()
        return Row("memory limit too small", "1 render at 24Mi", "1", f"{text}; message: {message[:160]}",
                   "-", ok)  # fmt: skip

    def scratch_full(self) -> Row:
        """Fifteen minutes of a 720p zoom over a photo at CRF 10 (megabytes a second) under a
        quarter of a core, into a work volume of 8Mi: over its limit within seconds and still
        rendering minutes later. The kubelet measures each pod's volumes (du) every 1-2 minutes
        (volumeStatsAggPeriod 1 min, jittered up to twice that) and evicts at the next check of
        its eviction loop; a render that ends before that is never noticed (the first runs: a
        17 s render Succeeded)."""
        namespace = create_namespace(self.cluster, "scratch")
        name = "scratch-00"
        manifest = tiny_render(name, namespace, f"{self.receiver.url}/{namespace}/{name}", retries=2)
        manifest["spec"]["timeline"] = {
            "width": 1280,
            "height": 720,
            "tracks": [{"clips": [{
                "type": "image", "src": "assets/reel-background.jpg", "duration": 900,
                "kenBurns": {"zoomStart": 1.0, "zoomEnd": 2.0},
            }]}],
        }  # fmt: skip
        manifest["spec"]["output"] = {"thumbnail": False, "crf": 10, "preset": "ultrafast"}
        manifest["spec"]["resources"] = {"cpu": "250m", "memory": "1Gi", "ephemeralStorage": "8Mi"}
        how = "1 render, 8Mi work volume"
        self.cluster.apply(manifest)
        started = time.monotonic()
        try:
            wait_terminal(self.cluster, namespace, [name], timeout=420)
        except TimeoutError as exc:
            status = phases(self.cluster, namespace).get(name, {})
            pods = self.cluster.kubectl_json("-n", namespace, "get", "pods")["items"]
            evicted = [p["status"].get("message", "") for p in pods if p["status"].get("reason") == "Evicted"]
            stuck = (
                f"NOT terminal after 420 s ({exc}); status {status.get('phase')}/{status.get('reason')},"
                f" progress {status.get('progress')}, attempts {status.get('attempts')},"
                f" {len(evicted)} evicted pods: {evicted[:1]}"
            )
            # Stop it: a quarter-hour render left behind would hold the node's CPU.
            self.cluster.kubectl("-n", namespace, "delete", "renderjob", name, "--wait=false", check=False)
            return Row("scratch volume full", how, "1", stuck, "-", False)
        took = time.monotonic() - started
        # The operator deletes the Job at once (else it would start the same render again).
        report = self.settle(namespace, [name], jobs_deleted=True)
        text, _ = self.verdict(report, want="Failed")
        status = phases(self.cluster, namespace)[name]
        message = status.get("message") or ""
        # The kubelet's Event, not the pod: the operator deletes the Job (and its pods) at once.
        events = self.cluster.kubectl_json("-n", namespace, "get", "events")["items"]
        evictions = [e.get("message", "").strip() for e in events if e.get("reason") == "Evicted"]
        ok = (
            status.get("phase") == "Failed"
            and status.get("reason") == "ScratchFull"
            and "spec.resources.ephemeralStorage" in message
            and len(evictions) >= 1
            and not report.problems()
        )
        return Row("scratch volume full", how, "1",
                   f"{text}; attempts {status.get('attempts')};"
                   f" progress when evicted {status.get('progress')}%; the kubelet said: {evictions[:1]};"
                   f" message: {message[:240]}",
                   f"Failed {took:.0f} s after apply", ok)  # fmt: skip

    def node_lost(self, renders: int = 4) -> Row:
        """Renders bound to a kwok node that is then deleted (kwok_node.py): the pod garbage
        collector marks their pods Failed with DisruptionTarget (DeletionByPodGC) and deletes
        them, the Job controller makes new pods without counting the lost ones, and those land
        on the real node and render.

        The real node is cordoned while the renders are placed, so that the kwok node is the only
        place for them, and uncordoned before the kwok node is deleted."""
        kwok = ChaosKwok(self.cluster, CLUSTER_DIR / "chaos")
        namespace = create_namespace(self.cluster, "nodelost")
        names = [f"nodelost-{i:02d}" for i in range(renders)]
        real = self.cluster.node_name
        cordoned = False
        try:
            kwok.start()
            kwok.add_node(LOST_NODE)
            self.cluster.kubectl("cordon", real)
            cordoned = True
            for name in names:
                self.cluster.apply(
                    tiny_render(name, namespace, f"{self.receiver.url}/{namespace}/{name}", seconds=20)
                )
            bound = self._wait_bound(namespace, names, LOST_NODE)
            flights = len(in_flight(self.cluster, namespace))
            self.cluster.kubectl("uncordon", real)
            cordoned = False
            print(f"   {utc_now()} {len(bound)} renders Running on {LOST_NODE}; deleting it")
            kwok.delete_node(LOST_NODE)
            lost_at = time.monotonic()
            gone, back = self._wait_recovered(namespace, bound, real, lost_at)
        finally:
            if cordoned:
                self.cluster.kubectl("uncordon", real, check=False)
            kwok.delete_node(LOST_NODE)
            kwok.stop()
        took = wait_terminal(self.cluster, namespace, names, timeout=600)

        def accept(r: RenderOutcome) -> bool:  # Succeeded, or Failed naming its cause
            return r.phase == "Succeeded" or (r.phase == "Failed" and r.reason not in GENERIC_FAILURES)

        report = self.settle(namespace, names)
        text, ok = self.verdict(report, accept=accept)
        statuses = phases(self.cluster, namespace)
        attempts = [statuses[n].get("attempts") for n in names]
        pods = self.cluster.kubectl_json("-n", namespace, "get", "pods")["items"]
        left = [p["metadata"]["name"] for p in pods if p["spec"].get("nodeName") == LOST_NODE]
        ok = ok and attempts == [1] * renders and not left
        text += f"; attempts {attempts} (the lost pod not counted); pods left on the lost node: {len(left)}"
        recovery = (
            f"lost pods removed by the pod GC {min(gone):.0f}-{max(gone):.0f} s after the node was deleted;"
            f" every render running again on the real node within {max(back):.0f} s;"
            f" all terminal {took:.0f} s after that"
        )
        return Row(
            "a node lost (kwok node deleted with pods bound)", "1 node", f"{flights}", text, recovery, ok
        )

    # --- waiting -------------------------------------------------------------------------------

    def _wait_phase(self, namespace: str, name: str, phase: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = phases(self.cluster, namespace).get(name, {})
            if status.get("phase") == phase and status.get("jobName"):
                return status
            if status.get("phase") in TERMINAL:
                raise RuntimeError(f"{namespace}/{name} ended {status.get('phase')} before {phase}")
            time.sleep(0.3)
        raise TimeoutError(f"{namespace}/{name} not {phase} after {timeout:g} s")

    def _wait_first_attempt(self, namespace: str, name: str, timeout: float = 60) -> None:
        """Wait until the operator has tried to deliver one of the render's webhook events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            webhook = phases(self.cluster, namespace).get(name, {}).get("webhook") or {}
            if any((r.get("attempts") or 0) >= 1 for r in webhook.get("deliveries") or []):
                return
            time.sleep(0.5)
        raise TimeoutError(f"no webhook attempt for {namespace}/{name} in {timeout:g} s")

    def _wait_bound(
        self, namespace: str, names: list[str], node: str, timeout: float = 180
    ) -> dict[str, str]:
        """Wait until every render is Running with its pod Running on ``node``; its pod by name."""
        deadline = time.monotonic() + timeout
        bound: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = phases(self.cluster, namespace)
            pods = self.cluster.kubectl_json("-n", namespace, "get", "pods")["items"]
            for name in names:
                job = statuses.get(name, {}).get("jobName")
                if statuses.get(name, {}).get("phase") != "Running" or not job:
                    continue
                for pod in pods:
                    if (
                        pod["metadata"].get("labels", {}).get("job-name") == job
                        and pod["spec"].get("nodeName") == node
                        and pod["status"].get("phase") == "Running"
                    ):
                        bound[name] = pod["metadata"]["name"]
            if len(bound) == len(names):
                return bound
            time.sleep(1)
        raise TimeoutError(f"only {sorted(bound)} of {names} Running on {node} after {timeout:g} s")

    def _wait_recovered(
        self, namespace: str, bound: dict[str, str], node: str, since: float, timeout: float = 300
    ) -> tuple[list[float], list[float]]:
        """For each render whose pod was lost: seconds until that pod is gone, and until a new
        pod runs on ``node`` (or the render has ended)."""
        gone: dict[str, float] = {}
        back: dict[str, float] = {}
        while time.monotonic() - since < timeout:
            statuses = phases(self.cluster, namespace)
            pods = self.cluster.kubectl_json("-n", namespace, "get", "pods")["items"]
            names_now = {p["metadata"]["name"] for p in pods}
            now = time.monotonic() - since
            for name, lost in bound.items():
                if name not in gone and lost not in names_now:
                    gone[name] = now
                job = statuses.get(name, {}).get("jobName")
                running = any(
                    p["metadata"].get("labels", {}).get("job-name") == job
                    and p["metadata"]["name"] != lost
                    and p["spec"].get("nodeName") == node
                    and p["status"].get("phase") in ("Running", "Succeeded")
                    for p in pods
                )
                if name not in back and (running or statuses.get(name, {}).get("phase") in TERMINAL):
                    back[name] = now
            if len(gone) == len(back) == len(bound):
                return list(gone.values()), list(back.values())
            time.sleep(0.5)
        raise TimeoutError(
            f"{timeout:g} s after the node was deleted: lost pods gone for {sorted(gone)},"
            f" running again for {sorted(back)} of {sorted(bound)}"
        )

    def _wait_new_pod_running(self, namespace: str, job: str, old: set[str], since: float) -> float | None:
        """Seconds until a new pod of ``job`` runs; None when the render ended instead."""
        while time.monotonic() - since < 300:
            if not any(s.get("jobName") == job for s in phases(self.cluster, namespace).values()
                       if s.get("phase") not in TERMINAL):  # fmt: skip
                return None
            pods = self.cluster.kubectl_json("-n", namespace, "get", "pods", "-l", f"job-name={job}")["items"]
            fresh = [p for p in pods if p["metadata"]["name"] not in old]
            if any(p["status"].get("phase") in ("Running", "Succeeded") for p in fresh):
                return time.monotonic() - since
            time.sleep(0.3)
        raise TimeoutError(f"no new pod of {namespace}/{job} ran within 300 s")


FAULTS: dict[str, Callable[[Run], Row | list[Row]]] = {
    "operator": Run.operator_killed,
    "pod": Run.pod_deleted,
    "receiver": Run.receiver_down,
    "operator-receiver": Run.operator_killed_receiver_down,
    "s3": Run.s3_stopped,
    "apiserver": lambda run: run.component_restarted("kube-apiserver"),
    "etcd": lambda run: run.component_restarted("etcd"),
    "oom": Run.out_of_memory,
    "scratch": Run.scratch_full,
    "node": Run.node_lost,
}


def print_table(rows: list[Row]) -> None:
    print("\n| fault | how often | renders in flight | outcome | recovery | right? |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        cells = (r.fault, r.how_often, r.in_flight, r.outcome, r.recovery, "yes" if r.ok else "NO")
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {', '.join(FAULTS)}")
    parser.add_argument("--no-build", action="store_true", help="use the images already in the cluster")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    chosen = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")

    started = time.monotonic()
    cluster = connect_cluster()
    if not args.no_build:
        build_project_images()
    bucket = f"chaos-{uuid.uuid4().hex[:8]}"
    host_s3_client(cluster).create_bucket(Bucket=bucket)
    install_crds(cluster)
    rows: list[Row] = []
    try:
        install_release(cluster, bucket)
        wait_for_operator_rollout(cluster)
        wait_for_standby(cluster)
        gateway = urlsplit(cluster.s3_endpoint).hostname or ""
        receiver = VerifyingReceiver(host=gateway).start()
        run = Run(cluster, bucket, receiver)
        print(f"{utc_now()} release installed, receiver at {receiver.url}; faults: {', '.join(chosen)}")
        for name in chosen:
            print(f"{utc_now()} fault: {name}", flush=True)
            t0 = time.monotonic()
            try:
                result = FAULTS[name](run)
                these = result if isinstance(result, list) else [result]
            except (Exception, pytest.fail.Exception) as exc:  # a broken fault: the others still run
                these = [
                    Row(
                        name,
                        "-",
                        "-",
                        f"the run itself failed: {type(exc).__name__}: {str(exc)[:300]}",
                        "-",
                        False,
                    )
                ]
                try:
                    run.up()  # whatever was stopped comes back before the next fault
                    subprocess.run([str(CLUSTER_TESTS / "s3.sh"), "start"], capture_output=True, timeout=120)
                    s3 = host_s3_client(cluster)  # a restarted S3 server starts empty
                    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
                        s3.create_bucket(Bucket=bucket)
                    if receiver._server is None:
                        run.restart_receiver()
                except Exception as again:
                    print(f"   could not bring the cluster back: {again}")
            rows += these
            verdict = "right" if all(r.ok for r in these) else "NOT RIGHT"
            print(f"{utc_now()} {name}: {verdict} in {time.monotonic() - t0:.0f} s", flush=True)
            print_table(these)
            if args.json:
                args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
        receiver.stop()
    finally:
        # Leave no operator behind, even when the run breaks: the test suite installs its own,
        # and an old active replica would hold the Lease with this run's settings.
        cluster.helm("uninstall", RELEASE, "-n", SYSTEM_NS, "--wait", check=False)
    print(f"\nfault-injection run: {len(rows)} rows in {time.monotonic() - started:.0f} s")
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0 if rows and all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
