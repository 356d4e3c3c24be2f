"""The Job and its children: every manifest a resource turns into, checked field by field."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from reelkube.api.kinds import RENDER_JOB, TTS_JOB, PodResources
from reelkube.api.pod_contract import RESOURCE_PATH
from reelkube.controller.job_manifests import (
    build_chunk_job,
    build_job,
    build_merge_job,
    build_role,
    build_role_binding,
    build_service_account,
    build_spec_configmap,
    child_name,
    labels_for,
)
from reelkube.controller.settings import OperatorSettings, StorageDefaults
from support.resources import UID, render_job, tts_job

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SETTINGS = OperatorSettings(renderer_image="registry.example/reelkube/renderer:1.2.3", job_ttl_seconds=900)


def pod_spec(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def container(job: dict) -> dict:
    return pod_spec(job)["containers"][0]


def env_of(job: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(job)["env"]}


def test_child_name_is_deterministic_dns_safe_and_short() -> None:
    job = render_job()
    assert child_name(job) == child_name(render_job())
    assert child_name(job).startswith("rj-summer-reel-")
    long = render_job()
    long.metadata.name = "A.very.long.Name_" + "x" * 240
    name = child_name(long)
    assert len(name) <= 63 and DNS_LABEL.match(name), name
    assert child_name(tts_job()).startswith("tts-narration-")


def test_child_name_differs_for_a_recreated_resource_and_for_another_kind() -> None:
    first, second = render_job(), render_job()
    second.metadata.uid = "ffffffff-0000-0000-0000-000000000000"
    assert child_name(first) != child_name(second)
    assert child_name(first).rsplit("-", 1)[1] != child_name(tts_job()).rsplit("-", 1)[1]


def test_child_name_needs_a_uid() -> None:
    job = render_job()
    job.metadata.uid = None
    with pytest.raises(ValueError, match="no uid"):
        child_name(job)


def test_every_child_is_owned_labelled_and_named_alike() -> None:
    job = render_job()
    built = [
        b(job, SETTINGS)
        for b in (build_spec_configmap, build_service_account, build_role, build_role_binding, build_job)
    ]
    for manifest in built:
        meta = manifest["metadata"]
        assert meta["name"] == child_name(job)
        assert meta["namespace"] == "media"
        assert meta["labels"] == {
            "app.kubernetes.io/managed-by": "reelkube",
            "reelkube.io/name": "summer-reel",
            "reelkube.io/kind": "RenderJob",
            "reelkube.io/uid": UID,
        }
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "reelkube.io/v1alpha1",
                "kind": "RenderJob",
                "name": "summer-reel",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_configmap_carries_the_spec_as_json_the_runner_can_parse() -> None:
    job = render_job()
    cm = build_spec_configmap(job, SETTINGS)
    assert cm["immutable"] is True
    document = json.loads(cm["data"]["resource.json"])
    assert document["metadata"] == {"name": "summer-reel", "namespace": "media", "uid": UID, "generation": 1}
    assert document["spec"]["props"]["title"] == "Hello"
    assert "managedFields" not in json.dumps(document)
    assert RENDER_JOB.parse(document).spec == job.spec


def test_role_grants_only_this_resources_status() -> None:
    role = build_role(render_job(), SETTINGS)
    assert role["rules"] == [
        {
            "apiGroups": ["reelkube.io"],
            "resources": ["renderjobs/status"],
            "resourceNames": ["summer-reel"],
            "verbs": ["get", "patch"],
        }
    ]
    assert build_role(tts_job(), SETTINGS)["rules"][0]["resources"] == ["ttsjobs/status"]


def test_role_binding_binds_the_role_to_the_service_account() -> None:
    job = render_job()
    binding = build_role_binding(job, SETTINGS)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": child_name(job),
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": child_name(job), "namespace": "media"}]
    sa = build_service_account(job, SETTINGS)
    assert sa["automountServiceAccountToken"] is False


def test_job_runs_the_runner_on_the_mounted_spec_without_a_shell() -> None:
    job = build_job(render_job(), SETTINGS)
    c = container(job)
    assert c["image"] == "registry.example/reelkube/renderer:1.2.3"
    assert c["command"] == ["reelkube", "job", "--resource", RESOURCE_PATH]
    assert "args" not in c
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/etc/reelkube"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(job)["volumes"]}
    assert volumes["spec"]["configMap"]["name"] == child_name(render_job())
    assert RESOURCE_PATH == "/etc/reelkube/resource.json"


def test_job_limits_deadline_retries_and_ttl_come_from_spec_and_settings() -> None:
    job = build_job(render_job(timeoutSeconds=120, retries=4), SETTINGS)
    assert job["spec"]["activeDeadlineSeconds"] == 120
    assert job["spec"]["backoffLimit"] == 4
    assert job["spec"]["ttlSecondsAfterFinished"] == 900
    assert pod_spec(job)["restartPolicy"] == "Never"
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["values"] == [2]


def test_pod_failure_policy_ignores_disruptions_before_failing_on_sigkill() -> None:
    rules = build_job(render_job(), SETTINGS)["spec"]["podFailurePolicy"]["rules"]
    assert [(r["action"], r.get("onExitCodes", {}).get("values")) for r in rules] == [
        ("FailJob", [2]),
        ("Ignore", None),
        ("FailJob", [137]),
    ]
    assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget"}]
    assert all(r["onExitCodes"]["containerName"] == "reelkube" for r in rules if "onExitCodes" in r)


def test_without_retries_a_stopped_pod_fails_the_job_by_a_rule_that_names_it() -> None:
    # The Job would fail on it anyway; the rule's condition names the pod after it is gone.
    stopped = {"containerName": "reelkube", "operator": "In", "values": [143]}
    for resource in (render_job(retries=0), tts_job(retries=0)):
        rules = build_job(resource, SETTINGS)["spec"]["podFailurePolicy"]["rules"]
        assert rules[-1] == {"action": "FailJob", "onExitCodes": stopped}
        assert rules[1]["onPodConditions"] == [{"type": "DisruptionTarget"}]  # a drain is still retried
    retried = build_job(render_job(retries=1), SETTINGS)["spec"]["podFailurePolicy"]["rules"]
    assert all(143 not in r.get("onExitCodes", {}).get("values", []) for r in retried)


def test_the_runner_is_not_the_pods_pid_1_in_every_render_pod() -> None:
    # A PID 1 drops a SIGTERM it has no handler for (the runner's first seconds): the pod would
    # render on until the kubelet's SIGKILL, whose 137 fails the Job as out of memory.
    chunk = build_chunk_job(render_job(output={"chunks": 2}), SETTINGS, 2)
    created = {**chunk, "metadata": {**chunk["metadata"], "uid": "4f1c0000-0000-0000-0000-000000000002"}}
    merge = build_merge_job(render_job(output={"chunks": 2}), SETTINGS, 2, created)
    for job in (build_job(render_job(), SETTINGS), build_job(tts_job(), SETTINGS), chunk, merge):
        assert pod_spec(job)["shareProcessNamespace"] is True, job["metadata"]["name"]


def test_job_resources_default_per_kind_then_chart_then_spec() -> None:
    limits = container(build_job(render_job(), SETTINGS))["resources"]["limits"]
    assert limits == {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "10Gi"}
    assert container(build_job(tts_job(), SETTINGS))["resources"]["requests"]["memory"] == "1Gi"
    chart = OperatorSettings(
        default_resources={"RenderJob": PodResources(cpu="1500m", memory="", ephemeral_storage="")}
    )
    assert container(build_job(render_job(), chart))["resources"]["requests"]["cpu"] == "1500m"
    job = build_job(render_job(resources={"memory": "6Gi", "ephemeralStorage": "30Gi"}), chart)
    res = container(job)["resources"]
    assert res["requests"] == res["limits"] == {"cpu": "1500m", "memory": "6Gi", "ephemeral-storage": "30Gi"}
    work = next(v for v in pod_spec(job)["volumes"] if v["name"] == "work")
    assert work["emptyDir"]["sizeLimit"] == "30Gi"


def test_the_pod_learns_its_cpu_limit_from_the_downward_api() -> None:
    """The runner sizes the encoder's threads by it (engine.encoders.threads_for_cpu_limit): a
    limit does not hide the node's cores from x264. Every pod: render, TTS, chunk and merge."""
    chunks = build_chunk_job(render_job(output={"chunks": 2}), SETTINGS, 2)
    created = {**chunks, "metadata": {**chunks["metadata"], "uid": "4f1c0000-0000-0000-0000-000000000002"}}
    merge = build_merge_job(render_job(output={"chunks": 2}), SETTINGS, 2, created)
    for job in (build_job(render_job(), SETTINGS), build_job(tts_job(), SETTINGS), chunks, merge):
        env = {e["name"]: e for e in container(job)["env"]}
        assert env["REELKUBE_CPU_LIMIT_MILLICORES"]["valueFrom"] == {
            "resourceFieldRef": {"containerName": "reelkube", "resource": "limits.cpu", "divisor": "1m"}
        }


def test_job_pod_is_locked_down() -> None:
    job = build_job(render_job(), SETTINGS)
    pod = pod_spec(job)
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(job)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container(job)["terminationMessagePolicy"] == "FallbackToLogsOnError"
    writable = {m["mountPath"] for m in container(job)["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/work", "/tmp"}
    # The token is mounted, but only with the account that can do nothing but patch this status.
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == child_name(render_job())


def test_gpu_output_requests_a_gpu_and_lands_on_gpu_nodes() -> None:
    settings = OperatorSettings(
        gpu_node_selector={"reelkube.io/gpu": "true"},
        gpu_tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        gpu_runtime_class="nvidia",
        job_node_selector={"pool": "render"},
    )
    gpu = build_job(render_job(output={"format": "mp4", "codec": "h264", "gpu": True}), settings)
    assert container(gpu)["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod_spec(gpu)["nodeSelector"] == {"pool": "render", "reelkube.io/gpu": "true"}
    assert pod_spec(gpu)["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod_spec(gpu)["runtimeClassName"] == "nvidia"
    cpu = build_job(render_job(), settings)
    assert "nvidia.com/gpu" not in container(cpu)["resources"]["limits"]
    assert pod_spec(cpu)["nodeSelector"] == {"pool": "render"}
    assert "runtimeClassName" not in pod_spec(cpu) and "tolerations" not in pod_spec(cpu)
    assert TTS_JOB.wants_gpu(tts_job()) is False


def test_storage_defaults_and_credentials_reach_the_pod_by_reference_only() -> None:
    settings = OperatorSettings(
        storage=StorageDefaults(
            endpoint_url="http://minio:9000", bucket="renders", prefix="out", credentials_secret="s3-creds"
        )
    )
    env = env_of(build_job(render_job(), settings))
    assert env["REELKUBE_STORAGE_ENDPOINT"] == "http://minio:9000"
    assert env["REELKUBE_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["REELKUBE_STORAGE_BUCKET"] == "renders"
    assert env["REELKUBE_STORAGE_PREFIX"] == "out"
    assert env["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID", "optional": True}
    }
    own = render_job(storage={"bucket": "mine", "credentialsSecret": "team-creds"})
    # A bucket of its own needs the chart's storage.allowSpecStorage (storage.tenancy).
    settings = replace(settings, storage=replace(settings.storage, allow_spec_storage=True))
    assert env_of(build_job(own, settings))["AWS_SECRET_ACCESS_KEY"]["secretKeyRef"]["name"] == "team-creds"
    assert "AWS_ACCESS_KEY_ID" not in env_of(build_job(render_job(), OperatorSettings()))


def test_labels_survive_long_names() -> None:
    job = render_job()
    job.metadata.name = "n" * 62 + "-" + "m" * 100
    assert len(labels_for(job)["reelkube.io/name"]) <= 63
    assert not labels_for(job)["reelkube.io/name"].endswith("-")
    assert (
        build_job(job, SETTINGS)["spec"]["template"]["metadata"]["annotations"]["reelkube.io/resource"]
        == job.metadata.name
    )
