"""The client against the real cluster and the chart-installed operator: `reelkube submit --wait
--download`, a failure, a cancel, a 20-row batch, and the Python client with its callback.

The chart, the S3 server and the images come from the same support code as the end-to-end tests
(tests/e2e); the example's asset is uploaded to a fresh bucket and named by s3:// URI, since a
render pod does not see this checkout.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelkube.api.status import Phase, ResourceStatus
from reelkube.client import BATCH_LABEL, Client
from support.reelkube_cluster import (
    RELEASE,
    ROOT,
    SYSTEM_NS,
    Cluster,
    get_resource,
    host_s3_client,
    new_bucket,
    operator_release,
    phase_is,
    tenant_namespace,
    wait_for_resource,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

EXAMPLES = ROOT / "examples"
BACKGROUND = "examples/assets/reel-background.jpg"
SMALL_OUTPUT = {"width": 270, "height": 480, "fps": 15, "preset": "veryfast", "thumbnail": False}
HALF_SIZE = {"width": 540, "height": 960}
"""The example reel at half its 1080x1920, where a test watches a render go by (its Running
lines, its progress) rather than the pixels: a quarter of the composing and encoding."""
BATCH_POD = {"cpu": "250m"}
"""A batch row's pod: seven at a time on the test node, instead of three at the module's 500m
(a 2 s row at 270x480 spends most of its time starting, fetching and uploading)."""


@pytest.fixture(scope="module")
def bucket(cluster: Cluster) -> str:
    """A fresh bucket holding the captioned reel's background."""
    return new_bucket(cluster, "client", {BACKGROUND: ROOT / BACKGROUND})


@pytest.fixture(scope="module")
def release(cluster: Cluster, project_images: dict[str, str], bucket: str) -> Iterator[None]:
    # The client's renders are tiny (2 s at a small size): three at a time instead of the suite's
    # one, so the 20-row batch waits on pod starts side by side rather than one after another.
    with operator_release(cluster, bucket, "--set-string", "jobs.defaultResources.renderJob.cpu=500m"):
        yield


@pytest.fixture(scope="module")
def client_namespace(cluster: Cluster, release: None) -> Iterator[str]:
    with tenant_namespace(cluster, "client") as name:
        yield name


def reelkube(cluster: Cluster, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the `reelkube` program as a user would, with the cluster's kubeconfig."""
    return subprocess.run(
        [sys.executable, "-m", "reelkube.cli", *args],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def captioned_reel(bucket: str, name: str, **props: Any) -> dict[str, Any]:
    manifest = yaml.safe_load((EXAMPLES / "captioned-reel.yaml").read_text())
    manifest["metadata"] = {"name": name}
    manifest["spec"]["props"]["backgroundUrl"] = f"s3://{bucket}/{BACKGROUND}"
    manifest["spec"]["props"].update(props)
    return dict(manifest)


def write_manifest(tmp_path: Path, manifest: dict[str, Any]) -> Path:
    path = tmp_path / f"{manifest['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def assert_downloaded(directory: Path, status: dict[str, Any]) -> None:
    """Every output with a URL is in ``directory`` with the size and SHA-256 of the status."""
    assert status["outputs"]
    for name, output in status["outputs"].items():
        path = directory / Path(output["uri"]).name
        data = path.read_bytes()
        assert len(data) == output["size"], name
        assert hashlib.sha256(data).hexdigest() == output["sha256"], name


def test_submit_wait_download_ends_0_with_matching_files(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    manifest = captioned_reel(bucket, "reel")
    manifest["spec"]["output"] = {**manifest["spec"]["output"], **HALF_SIZE}
    path = write_manifest(tmp_path, manifest)
    started = time.monotonic()
    proc = reelkube(
        cluster, "submit", str(path), "-n", client_namespace, "--wait", "--download", str(tmp_path / "out")
    )
    print(f"--- reelkube submit --wait ({time.monotonic() - started:.1f}s) ---\n{proc.stdout}{proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    body = get_resource(cluster, "renderjobs", client_namespace, "reel")
    assert body is not None and body["status"]["phase"] == "Succeeded"
    assert_downloaded(tmp_path / "out" / "reel", body["status"])
    for output in body["status"]["outputs"].values():
        assert output["url"] in proc.stdout
    lines = proc.stderr.splitlines()
    assert any(line.startswith("reel  Running  rendering") for line in lines), proc.stderr
    succeeded = [line for line in lines if line.startswith("reel  Succeeded")]
    assert len(succeeded) == 1 and succeeded[0].startswith("reel  Succeeded  100%"), proc.stderr


def test_submit_uploads_the_manifests_local_files_once(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    """A file beside the manifest (not one the renderer image holds) is uploaded to the default
    storage, which the client learns from the operator's Deployment, with the credentials of the
    Secret the render pod gets; the pod renders from it; a second submit uploads nothing."""
    (tmp_path / "media").mkdir()
    shutil.copy(ROOT / BACKGROUND, tmp_path / "media" / "my-background.jpg")
    manifest = captioned_reel(bucket, "uploaded", backgroundUrl="media/my-background.jpg", durationSeconds=2)
    manifest["spec"]["output"] = {**manifest["spec"]["output"], **SMALL_OUTPUT}
    path = write_manifest(tmp_path, manifest)
    proc = reelkube(
        cluster, "submit", str(path), "-n", client_namespace, "--wait", "--timeout", "10m",
        "--download", str(tmp_path / "out"),
    )  # fmt: skip
    print(f"--- reelkube submit (upload) ---\n{proc.stdout}{proc.stderr[-2000:]}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    area = f"e2e/{client_namespace}/uploads/sha256"
    assert (
        f"1 local file(s) now named by s3:// URI: 1 uploaded, 0 already there, in s3://{bucket}/"
        f"e2e/{client_namespace}/ (Deployment {SYSTEM_NS}/{RELEASE})"
    ) in proc.stderr, proc.stderr
    body = get_resource(cluster, "renderjobs", client_namespace, "uploaded")
    assert body is not None and body["status"]["phase"] == "Succeeded"
    digest = hashlib.sha256((ROOT / BACKGROUND).read_bytes()).hexdigest()
    key = f"{area}/{digest}/my-background.jpg"
    assert body["spec"]["props"]["backgroundUrl"] == f"s3://{bucket}/{key}"
    assert host_s3_client(cluster).head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert_downloaded(tmp_path / "out" / "uploaded", body["status"])

    manifest["metadata"]["name"] = "uploaded-again"
    again = reelkube(cluster, "submit", str(write_manifest(tmp_path, manifest)), "-n", client_namespace)
    cluster.kubectl("-n", client_namespace, "delete", "renderjobs.reelkube.io", "uploaded-again", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 local file(s) now named by s3:// URI: 0 uploaded, 1 already there" in again.stderr, again.stderr


def test_a_failing_resource_ends_1_with_its_reason(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    # An s3:// URI the pod reads with its credentials (the test S3 server refuses unsigned URLs).
    missing = f"s3://{bucket}/examples/assets/no-such-background.jpg"
    path = write_manifest(tmp_path, captioned_reel(bucket, "missing", backgroundUrl=missing))
    proc = reelkube(cluster, "submit", str(path), "-n", client_namespace, "--wait", "--timeout", "5m")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "InputNotFound" in proc.stdout and "no-such-background.jpg" in proc.stdout, proc.stdout


def test_the_python_client_renders_and_downloads(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    client = Client.from_kubeconfig(config_file=str(cluster.kubeconfig))
    manifest = captioned_reel(bucket, "python-reel")
    manifest["spec"]["output"] = {**manifest["spec"]["output"], **HALF_SIZE}
    handle = client.submit(manifest, namespace=client_namespace)
    seen: list[ResourceStatus] = []
    final = handle.wait(timeout=900, on_progress=seen.append)
    assert final.phase == Phase.SUCCEEDED
    progress = [s.progress for s in seen if s.progress is not None]
    assert progress == sorted(progress) and progress[-1] == 100, progress
    assert any(0 < p < 100 for p in progress), progress
    assert len(set(progress)) >= 3, progress
    saved = handle.download(tmp_path / "py")
    assert set(saved) == {name for name, o in handle.outputs.items() if o.url}
    assert_downloaded(tmp_path / "py", json.loads(final.status.model_dump_json(exclude_none=True)))
    assert [s.name for s in client.list(namespace=client_namespace)].count("python-reel") == 1


def test_a_20_row_batch_with_two_bad_rows(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    template = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "listing"},
        "spec": {
            "template": "captioned-reel",
            "props": {"backgroundUrl": f"s3://{bucket}/{BACKGROUND}", "durationSeconds": 2},
            "output": SMALL_OUTPUT,
            "resources": BATCH_POD,
        },
    }
    template_path = write_manifest(tmp_path, template)
    rows = [{"id": f"home-{i:02d}", "title": f"Home {i}", "overlayOpacity": "0.3"} for i in range(1, 21)]
    rows[3]["title"] = ""  # row 4: a required prop is missing
    rows[10]["overlayOpacity"] = "dark"  # row 11: not a number
    rows_path = tmp_path / "rows.csv"
    with rows_path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["id", "title", "overlayOpacity"])
        writer.writeheader()
        writer.writerows(rows)
    # Checked first: a dry run creates nothing and names both rows.
    dry = reelkube(cluster, "batch", str(template_path), str(rows_path), "--name-from", "id", "--dry-run")
    assert dry.returncode == 2
    assert "row 4, column title: Field required" in dry.stderr
    assert "row 11, column overlayOpacity" in dry.stderr
    assert cluster.kubectl_json("get", "renderjobs.reelkube.io", "-A", "-l", BATCH_LABEL)["items"] == []
    proc = reelkube(
        cluster, "batch", str(template_path), str(rows_path), "-n", client_namespace,
        "--name-from", "id", "--wait", "--timeout", "25m", timeout=1800,
    )  # fmt: skip
    print(f"--- reelkube batch ---\n{proc.stdout}{proc.stderr[-3000:]}")
    assert proc.returncode == 2, proc.stdout + proc.stderr  # two rows were invalid
    assert proc.stderr.index("row 4, column title") < proc.stderr.index("batch ")  # reported before creating
    items = cluster.kubectl_json("-n", client_namespace, "get", "renderjobs.reelkube.io", "-l", BATCH_LABEL)[
        "items"
    ]
    assert len(items) == 18
    assert {i["metadata"]["labels"][BATCH_LABEL] for i in items} == {
        items[0]["metadata"]["labels"][BATCH_LABEL]
    }
    assert sorted(i["metadata"]["name"] for i in items) == sorted(
        r["id"] for n, r in enumerate(rows, start=1) if n not in (4, 11)
    )
    assert all(i["status"]["phase"] == "Succeeded" for i in items), [i["status"] for i in items]
    for item in items:
        assert item["status"]["outputs"]["video"]["url"] in proc.stdout
    assert proc.stdout.count("Succeeded") == 18 and proc.stdout.count("Invalid") == 2


def test_cancel_ends_the_waiting_submit_with_3(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    path = write_manifest(tmp_path, captioned_reel(bucket, "long", durationSeconds=120))
    waiting = subprocess.Popen(
        [sys.executable, "-m", "reelkube.cli", "submit", str(path), "-n", client_namespace, "--wait"],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_resource(cluster, "renderjobs", client_namespace, "long", phase_is("Running"), timeout=300)
        cancel = reelkube(cluster, "cancel", "long", "-n", client_namespace, timeout=300)
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert "long: Canceled (CanceledByUser)" in cancel.stdout
        out, err = waiting.communicate(timeout=300)
    finally:
        waiting.kill()
    assert waiting.returncode == 3, out + err


def test_the_live_lines_in_a_real_terminal(
    cluster: Cluster, client_namespace: str, bucket: str, tmp_path: Path
) -> None:
    """`submit --wait` in tmux: the rich line is redrawn in place while the render runs."""
    manifest = captioned_reel(bucket, "terminal-reel")
    manifest["spec"]["output"] = {**manifest["spec"]["output"], **HALF_SIZE}
    path = write_manifest(tmp_path, manifest)
    session = f"reelkube-{uuid.uuid4().hex[:6]}"
    command = (
        f"env KUBECONFIG={cluster.kubeconfig} {sys.executable} -m reelkube.cli submit {path} "
        f"-n {client_namespace} --wait; echo EXIT=$?; sleep 600"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "12", command], check=True)
    panes: list[str] = []
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            pane = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout
            if not panes or panes[-1] != pane:
                panes.append(pane)
            if "EXIT=" in pane:
                break
            time.sleep(0.3)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    print("--- last pane ---\n" + panes[-1])
    assert "EXIT=0" in panes[-1], panes[-1]
    running = [p for p in panes if "terminal-reel" in p and "Running" in p and "rendering" in p]
    assert running, panes[-5:]
    assert any("━" in p and "%" in p for p in running), running[-1]
    # One line per resource, redrawn in place: the name never appears twice in a pane's live part.
    assert all(p.split("EXIT=")[0].count("terminal-reel  ") <= 1 for p in running), running[-1]
    assert "Succeeded" in panes[-1]
