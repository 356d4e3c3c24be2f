"""The API server validates our CRDs, and the renderer image renders an example inside the
cluster, writing the video to the S3 server that pods reach."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from support.cluster import Cluster
from support.media import probe
from support.reelkube_cluster import CREDENTIALS

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "captioned-reel.yaml"


def test_crds_apply_and_the_api_server_enforces_the_schema(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/renderjobs.reelkube.io", "crd/ttsjobs.reelkube.io"
    )
    bad = {
        "apiVersion": "reelkube.io/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"template": "slideshow", "timeline": {"tracks": [{"clips": [{"type": "color"}]}]},
                 "output": {"crf": 99}},
    }  # fmt: skip
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert proc.returncode != 0
    assert "spec.output.crf" in proc.stderr and "less than or equal to 63" in proc.stderr
    assert "give exactly one of template or timeline" in proc.stderr
    # Every example is accepted as written (server-side validation, defaults applied).
    for example in sorted((REPO / "examples").glob("*.yaml")):
        cluster.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", str(example))


def _s3(cluster: Cluster) -> Any:
    # The credentials the test S3 server verifies (tests/cluster/s3.sh).
    return boto3.client(
        "s3", endpoint_url=cluster.s3_host_endpoint, region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip


@pytest.mark.slow  # renders in the pod, then counts the frames here with ffprobe
def test_renderer_pod_renders_the_captioned_reel_to_s3(
    cluster: Cluster, namespace: str, project_images: dict[str, str], tmp_path: Path
) -> None:
    bucket = f"smoke-{uuid.uuid4().hex[:8]}"
    _s3(cluster).create_bucket(Bucket=bucket)
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["storage"] = {"bucket": bucket, "endpointUrl": cluster.s3_endpoint, "prefix": "smoke"}
    background = REPO / "examples" / manifest["spec"]["props"]["backgroundUrl"]
    cluster.apply({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "job", "namespace": namespace},
        "data": {"job.yaml": yaml.safe_dump(manifest)},
        "binaryData": {"background": base64.b64encode(background.read_bytes()).decode()},
    })  # fmt: skip
    scratch = {"emptyDir": {}}
    cluster.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "render", "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
            "containers": [{
                "name": "render", "image": project_images["renderer"], "imagePullPolicy": "Never",
                "args": ["render", "/job/job.yaml", "-o", "/work/out", "--json"],
                "env": [{"name": name, "value": value} for name, value in CREDENTIALS.items()],
                "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
                "volumeMounts": [{"name": "job", "mountPath": "/job"}, {"name": "work", "mountPath": "/work"},
                                 {"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [
                {"name": "job", "configMap": {"name": "job", "items": [
                    {"key": "job.yaml", "path": "job.yaml"},
                    {"key": "background", "path": manifest["spec"]["props"]["backgroundUrl"]}]}},
                {"name": "work", **scratch}, {"name": "tmp", **scratch},
            ],
        },
    })  # fmt: skip
    cluster.wait_for_pod_phase(namespace, "render", ("Succeeded",), timeout=420)
    log = cluster.kubectl("-n", namespace, "logs", "render").stdout
    # The log holds stderr's progress lines, then the `--json` report (an indented object).
    report = json.loads(log[log.index("\n{\n") :] if not log.startswith("{") else log)
    uri = report["uploaded"]["video"]["uri"]
    assert uri.startswith(f"s3://{bucket}/smoke/{namespace}/captioned-reel-example")
    video = tmp_path / "video.mp4"
    _s3(cluster).download_file(bucket, uri.split("/", 3)[3], str(video))
    probed = probe(video)
    stream = next(s for s in probed["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"], stream["r_frame_rate"]) == (1080, 1920, "30/1")
    assert int(stream["nb_read_frames"]) == 300
    assert abs(float(probed["format"]["duration"]) - 10.0) < 0.05
