"""The secret search of tests/e2e/test_secret_audit_cluster.py on planted secrets: it finds them
(so the cluster test can fail), in the audit log's bodies and in container logs that the kubelet
deleted before the search, and it learns the secret values from the audited Secret writes."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.secret_audit import (
    KnownSecret,
    PodLogKeeper,
    RunCapture,
    container_log_messages,
    find_leaks,
    secrets_written,
)

HOOK = "whsec_" + base64.b64encode(b"planted-webhook-key").decode()
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLWJ5dGVz"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def audit_event(
    resource: str, body: dict[str, Any], *, at: datetime, subresource: str = "", verb: str = "create"
) -> dict[str, Any]:
    ref = {"resource": resource, "namespace": "t-1", "name": body["metadata"]["name"]}
    if subresource:
        ref["subresource"] = subresource
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "stage": "ResponseComplete",
        "verb": verb,
        "objectRef": ref,
        "requestReceivedTimestamp": stamp(at),
        "requestObject": body,
        "responseObject": body,
    }


def secret(name: str, data: dict[str, str], type_: str = "Opaque") -> dict[str, Any]:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"kind": "Secret", "metadata": {"name": name, "namespace": "t-1"}, "type": type_, "data": encoded}


def cri_line(at: datetime, message: str, tag: str = "F") -> str:
    return f"{stamp(at)} stdout {tag} {message}\n"


def test_secret_values_are_learned_from_the_audited_secret_writes() -> None:
    now = datetime.now(UTC)
    helm_release = secret("sh.helm.release.v1.r.v1", {"release": "H4sI" * 10}, "helm.sh/release.v1")
    s3 = secret("s3", {"AWS_ACCESS_KEY_ID": "an-identifier", "AWS_SECRET_ACCESS_KEY": "tenant-s3-key"})
    events = [
        audit_event("secrets", secret("hook", {"secret": HOOK}), at=now),
        audit_event("secrets", s3, at=now),
        audit_event("secrets", secret("short", {"flag": "true"}), at=now),
        audit_event("secrets", helm_release, at=now),
    ]
    learned = {s.value: s.source for s in secrets_written(events)}
    assert learned == {
        HOOK: "Secret t-1/hook key secret",
        "tenant-s3-key": "Secret t-1/s3 key AWS_SECRET_ACCESS_KEY",
    }


def test_every_form_of_a_planted_secret_and_a_token_is_found_and_masked() -> None:
    hook = KnownSecret(HOOK, "Secret t-1/hook key secret")
    texts = [
        ("status", f"delivery failed for secret {HOOK} today"),
        ("event", "data: " + base64.b64encode(HOOK.encode()).decode()),
        ("operator log", "signing with planted-webhook-key"),
        ("render log", f"Authorization: Bearer {JWT}"),
        ("clean", "eyJhbGciOi alone is the hostile suite's marker, not a token; whsec_ is a prefix"),
    ]
    leaks = find_leaks(texts, [hook])
    assert [(leak.where, leak.what) for leak in leaks] == [
        ("status", "Secret t-1/hook key secret"),
        ("event", "Secret t-1/hook key secret (base64)"),
        ("operator log", "Secret t-1/hook key secret (the key inside whsec_)"),
        ("render log", "a service-account token (JWT)"),
    ]
    report = "\n".join(map(str, leaks))
    assert HOOK not in report and JWT not in report and "planted-webhook-key" not in report


def test_a_kept_log_holds_what_its_container_wrote_after_the_pod_was_deleted(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    pod = tmp_path / "pods" / "t-1_render-abc_0000-uid" / "render"
    pod.mkdir(parents=True)
    log = pod / "0.log"
    log.write_text(cri_line(now, "starting"))
    keeper = PodLogKeeper(tmp_path / "pods", tmp_path / "kept")
    keeper.scan()
    with log.open("a") as out:  # the container writes on after the link ...
        out.write(cri_line(now, "secret is tenant-s3-key"))
        # ... then the kubelet rotates the file: the same name, a new inode, linked again
        os.rename(log, pod / "0.log.20261130-160000")
        log.write_text(cri_line(now, "after rotation"))
    keeper.scan()
    for path in sorted(pod.iterdir()):  # the pod is deleted with its log folder
        path.unlink()
    kept = keeper.files()
    assert len(kept) == 2 and keeper.linked == 2
    messages = "\n".join(container_log_messages(path, now) for path in kept)
    assert set(messages.splitlines()) == {"starting", "secret is tenant-s3-key", "after rotation"}


def test_container_log_lines_before_the_window_are_left_out_and_partial_lines_joined(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    log = tmp_path / "0.log"
    log.write_text(
        cri_line(now - timedelta(hours=1), "an earlier session's line")
        + cri_line(now, "tenant-s3", tag="P")
        + cri_line(now, "-key split by the runtime")
    )
    assert container_log_messages(log, now) == "tenant-s3-key split by the runtime"


def test_the_capture_finds_a_planted_secret_in_a_deleted_pod_and_a_deleted_status(tmp_path: Path) -> None:
    """The whole chain on a planted run: a Secret written, a status and a container log that hold
    its value, the pod's log folder and the resource gone before the search."""
    cluster_dir, pods = tmp_path / "cluster", tmp_path / "var-log" / "pods"
    (cluster_dir / "audit").mkdir(parents=True)
    (cluster_dir / "logs").mkdir()
    (cluster_dir / "kubelet.yaml").write_text(f"kind: KubeletConfiguration\npodLogsDir: {pods}\n")
    (cluster_dir / "logs" / "kubelet.log").write_text("old line before the window\n")  # before the start
    capture = RunCapture(cluster_dir=cluster_dir, cache_dir=tmp_path / "cache", interval=0.05)
    assert capture.pod_logs == pods
    capture.start()
    try:
        now = datetime.now(UTC)
        container = pods / "t-1_render-abc_0000-uid" / "render"
        container.mkdir(parents=True)
        (container / "0.log").write_text(cri_line(now, f"uploading with {HOOK}"))
        capture.keeper.scan()
        (container / "0.log").unlink()
        status = {"metadata": {"name": "job"}, "status": {"phase": "Failed", "message": f"token {JWT}"}}
        started = {
            "metadata": {"name": "e1"}, "reason": "Started",
            "involvedObject": {"kind": "Pod", "namespace": "t-1", "name": "render-abc"},
        }  # fmt: skip
        events = [
            audit_event("secrets", secret("hook", {"secret": HOOK}), at=now),
            audit_event("renderjobs", status, at=now, subresource="status", verb="patch"),
            audit_event("events", started, at=now),
            audit_event("events", {"metadata": {"name": "old"}, "note": HOOK}, at=now - timedelta(hours=2)),
        ]
        (cluster_dir / "audit" / "audit.log").write_text("".join(json.dumps(e) + "\n" for e in events))
        (cluster_dir / "logs" / "kubelet.log").write_text("old line before the window\nclean line\n")
        host_operator = tmp_path / "test-a" / "operator.log"  # an operator process on the host
        host_operator.parent.mkdir()
        host_operator.write_text(f"signed with {HOOK}\n")
        capture.test_folders.append(host_operator.parent)
        capture.test_outputs.append(("test-b call: Captured stdout call", "all clean"))
        captured = capture.collect()
    finally:
        capture.stop()
    assert not capture.keeper.kept.exists()
    assert (captured.audit_events, captured.status_writes, captured.event_writes) == (2, 1, 1)
    assert captured.started_pods == captured.kept_pods == {"t-1/render-abc"}
    leaks = find_leaks(captured.texts, captured.secrets)
    assert sorted((leak.where.split(" at ")[0], leak.what) for leak in leaks) == [
        ("audit: patch renderjobs/status t-1/job", "a service-account token (JWT)"),
        ("log t-1/render-abc/render", "Secret t-1/hook key secret"),
        (f"test log {host_operator}", "Secret t-1/hook key secret"),
    ]
    assert ("host log " + str(cluster_dir / "logs" / "kubelet.log"), "clean line\n") in captured.texts
