"""The terminal captures of the client on the test cluster (not a test; run by hand, under the
cluster lock), written beside this file:

    flock /tmp/reelkube-cluster.lock python tests/client/captures/make_captures.py

- ``submit-narrated.txt``: `reelkube submit examples/narrated.yaml --wait --download` in a
  150x14 tmux pane, a frame while it renders and the last one;
- ``batch-summary.txt``: `reelkube batch` of the captioned reel over a five-row CSV (one bad row)
  with ``--wait``, the summary table as the terminal shows it.

The examples' relative paths are left as written (the renderer image's asset folder holds the
same files), so these also show a plain example rendering from the asset folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the support package

import yaml  # noqa: E402

from support.reelkube_cluster import (
    ROOT,
    Cluster,
    build_project_images,
    connect_cluster,
    create_storage_secret,  # noqa: E402
    host_s3_client,
    install_crds,
    install_release,
    wait_for_operator_rollout,
)

HERE = Path(__file__).resolve().parent
WIDTH = 150


def in_tmux(cluster: Cluster, command: str, height: int, timeout: float = 900) -> list[str]:
    """Run ``command`` in a detached tmux pane; every distinct frame until it has exited."""
    session = f"capture-{uuid.uuid4().hex[:6]}"
    script = f"cd {ROOT} && env KUBECONFIG={cluster.kubeconfig} {command}; echo EXIT=$?; sleep 600"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(height), script], check=True
    )
    frames: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pane = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout
            if not frames or frames[-1] != pane:
                frames.append(pane)
            if "EXIT=" in pane:
                break
            time.sleep(0.25)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    return frames


def trimmed(frame: str) -> str:
    return "\n".join(line.rstrip() for line in frame.rstrip().splitlines()) + "\n"


def main() -> int:
    cluster = connect_cluster()
    build_project_images()
    bucket = f"captures-{uuid.uuid4().hex[:8]}"
    host_s3_client(cluster).create_bucket(Bucket=bucket)
    install_crds(cluster)
    install_release(cluster, bucket)
    wait_for_operator_rollout(cluster)
    namespace = "demo"
    cluster.kubectl("delete", "namespace", namespace, "--wait=true", check=False, timeout=300)
    cluster.kubectl("create", "namespace", namespace)
    create_storage_secret(cluster, namespace)
    work = Path("/tmp") / f"captures-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    python = f"{sys.executable} -m reelkube.cli"
    status = 0
    try:
        frames = in_tmux(
            cluster,
            f"{python} submit examples/narrated.yaml -n {namespace} --wait --download {work}/out",
            height=14,
        )
        rendering = [f for f in frames if "rendering" in f and "%" in f]
        middle = rendering[len(rendering) // 2] if rendering else frames[len(frames) // 2]
        (HERE / "submit-narrated.txt").write_text(
            "$ reelkube submit examples/narrated.yaml -n demo --wait --download out\n"
            f"# tmux capture-pane, {WIDTH} columns: a frame while it renders\n\n{trimmed(middle)}\n"
            f"# the last frame\n\n{trimmed(frames[-1])}"
        )
        status |= "EXIT=0" not in frames[-1]

        (work / "assets").mkdir()
        shutil.copy(ROOT / "examples" / "assets" / "reel-background.jpg", work / "assets")
        template = yaml.safe_load((ROOT / "examples" / "captioned-reel.yaml").read_text())
        template["metadata"] = {"name": "listing"}
        template["spec"]["props"]["durationSeconds"] = 3
        template["spec"]["output"].update(width=540, height=960, thumbnail=False)
        (work / "listing.yaml").write_text(yaml.safe_dump(template, sort_keys=False))
        (work / "homes.csv").write_text(
            "id,title,subtitle,overlayOpacity\n"
            "elm-12,12 Elm Street,3 bed · 2 bath,0.3\n"
            "oak-7,7 Oak Avenue,Garden flat,0.4\n"
            "pine-3,3 Pine Road,,dark\n"
            "ash-21,21 Ash Lane,Loft with a view,0.25\n"
            "birch-9,9 Birch Close,New build,0.35\n"
        )
        frames = in_tmux(
            cluster,
            f"{python} batch {work}/listing.yaml {work}/homes.csv -n {namespace} --name-from id --wait",
            height=30,
        )
        (HERE / "batch-summary.txt").write_text(
            "$ reelkube batch listing.yaml homes.csv -n demo --name-from id --wait\n"
            f"# tmux capture-pane, {WIDTH} columns: the last frame (row 3 is refused before anything"
            " is created; presigned URLs are cut at the column's width)\n\n"
            f"{trimmed(frames[-1])}"
        )
        status |= "EXIT=2" not in frames[-1]  # one bad row: exit 2 after the good ones succeeded
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        shutil.rmtree(work, ignore_errors=True)
    print((HERE / "submit-narrated.txt").read_text())
    print((HERE / "batch-summary.txt").read_text())
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
