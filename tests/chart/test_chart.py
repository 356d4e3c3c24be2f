"""The Helm chart: CRDs in sync with the models, and (with a helm binary) lint and templates.

helm is ``$REELKUBE_HELM``, else looked up on PATH, then in the cluster toolchain's cache
(``~/.cache/reelkube/k8s-*/bin/helm``, built by ``make cluster-build``).
"""

from __future__ import annotations

import copy
import functools
import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reelkube.api.crd import crd_files
from reelkube.controller.job_manifests import build_job, build_role
from reelkube.controller.settings import settings_from_env
from reelkube.input_policy import InputPolicy
from support import yamls
from support.resources import render_job
from support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "reelkube"


def find_helm() -> str | None:
    if os.environ.get("REELKUBE_HELM"):
        return os.environ["REELKUBE_HELM"]
    found = shutil.which("helm")
    if found:
        return found
    cache = os.environ.get("REELKUBE_CACHE", str(Path.home() / ".cache" / "reelkube"))
    candidates = sorted(glob.glob(f"{cache}/k8s-*/bin/helm"))
    return candidates[-1] if candidates else None


HELM = find_helm()


@pytest.fixture
def helm_binary() -> str:
    """The helm binary; missing, the test is skipped (failed in CI, where run-all.sh builds it)."""
    return require_tool(HELM, "no helm binary (PATH or ~/.cache/reelkube/k8s-*/bin/helm)")


needs_helm = pytest.mark.usefixtures("helm_binary")


def test_chart_crds_equal_the_repository_crds_and_the_models() -> None:
    generated = crd_files()
    chart = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    repo = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    fix = "run: reelkube crds && reelkube crds --dir charts/reelkube/crds"
    assert chart == repo, f"charts/reelkube/crds differs from crds/ ({fix})"
    # The admission policies' parameters (AdmissionLimits) are written by hand: no model.
    assert {n: t for n, t in chart.items() if n != "admissionlimits.reelkube.io.yaml"} == generated, (
        f"the CRDs differ from the models ({fix})"
    )


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    proc = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return proc


def template(*sets: str) -> list[dict[str, Any]]:
    """The chart rendered with these --set values (a fresh copy: tests may change it)."""
    return copy.deepcopy(_template(sets))


@functools.cache
def _template(sets: tuple[str, ...]) -> list[dict[str, Any]]:
    args = ["template", "reelkube", str(CHART), "--namespace", "reelkube-system", "--kube-version", "1.35.0"]
    for item in sets:
        args += ["--set", item]
    return [d for d in yamls.load_all(helm(*args).stdout) if d]


def find(
    docs: list[dict[str, Any]], kind: str, name: str | None = None, namespace: str | None = None
) -> list[dict[str, Any]]:
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


@needs_helm
def test_helm_lint_passes() -> None:
    out = helm("lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in out.stdout


@needs_helm
def test_schema_rejects_bad_values() -> None:
    for bad in (
        "jobs.maxRunning=-1",
        "storage.presignExpirySeconds=5",
        "image.renderer.pullPolicy=Sometimes",
        "nope=1",
    ):
        proc = helm("template", "reelkube", str(CHART), "--set", bad, check=False)
        assert proc.returncode != 0, bad
        assert "schema" in proc.stderr.lower() or "values don't meet" in proc.stderr.lower(), proc.stderr


@needs_helm
def test_default_install_is_cluster_wide_and_configures_the_operator() -> None:
    docs = template(
        "storage.bucket=renders",
        "storage.endpoint=http://s3:9000",
        "jobs.maxRunning=5",
        "gpu.runtimeClassName=nvidia",
    )
    deployment = find(docs, "Deployment")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["reelkube", "operator"] and container["args"] == ["--all-namespaces"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"  # standbys: test_standby_chart.py
    env = {e["name"]: e["value"] for e in container["env"]}
    settings = settings_from_env(env)  # what the chart sets is what the operator parses
    assert settings.renderer_image == "reelkube/renderer:dev"
    assert settings.storage.bucket == "renders" and settings.storage.endpoint_url == "http://s3:9000"
    assert settings.max_running_jobs == 5 and settings.gpu_runtime_class == "nvidia"
    assert settings.default_resources["RenderJob"].memory == "2Gi"
    assert settings.gpu_tolerations[0]["key"] == "nvidia.com/gpu"
    assert settings.watch_namespaces == ()
    assert find(docs, "ClusterRole", "reelkube") and not find(docs, "Role", "reelkube")  # leases: own Role
    assert find(docs, "Service", "reelkube-metrics")[0]["spec"]["ports"][0]["port"] == 8000


@needs_helm
def test_operator_rbac_covers_what_it_grants_and_creates() -> None:
    rules = find(template(), "ClusterRole", "reelkube")[0]["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules
        )

    # RBAC refuses to let the operator grant what it does not hold itself.
    for rule in build_role(render_job(), settings_from_env({}))["rules"]:
        for verb in rule["verbs"]:
            assert allowed(rule["apiGroups"][0], rule["resources"][0], verb), rule
    for resource in ("configmaps", "serviceaccounts"):
        assert allowed("", resource, "create") and allowed("", resource, "get")
    for resource in ("roles", "rolebindings"):
        assert allowed("rbac.authorization.k8s.io", resource, "create")
    assert allowed("batch", "jobs", "create") and allowed("batch", "jobs", "watch")
    assert allowed("", "pods", "watch") and not allowed("", "pods", "create")
    assert not allowed("", "secrets", "list"), "secrets are read by name only"
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)


@needs_helm
def test_watch_namespaces_renders_roles_per_namespace() -> None:
    docs = template("watchNamespaces={team-a,team-b}")
    container = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--namespace=team-a", "--namespace=team-b"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert settings_from_env(env).watch_namespaces == ("team-a", "team-b")
    for namespace in ("team-a", "team-b"):
        assert find(docs, "Role", "reelkube", namespace)
        binding = find(docs, "RoleBinding", "reelkube", namespace)[0]
        assert binding["subjects"][0] == {
            "kind": "ServiceAccount",
            "name": "reelkube",
            "namespace": "reelkube-system",
        }
    assert not find(docs, "ClusterRole", "reelkube")
    discovery = find(docs, "ClusterRole", "reelkube-discovery")[0]["rules"]
    assert {r["resources"][0] for r in discovery} == {"customresourcedefinitions", "namespaces"}


@needs_helm
def test_inputs_reach_the_operator_and_its_render_pods() -> None:
    default = find(template(), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    defaults = settings_from_env({e["name"]: e["value"] for e in default["env"]}).inputs
    assert defaults.allowed_hosts == defaults.allowed_cidrs == defaults.denied_cidrs == ()
    assert defaults.cluster_cidrs == () and defaults.asset_dir == "/opt/reelkube/assets"
    docs = template(
        "inputs.allowedHosts={minio.storage.svc.cluster.local,*.cdn.example.com}",
        "inputs.allowedCIDRs={172.18.0.1/32}",
        "inputs.deniedCIDRs={203.0.113.0/24,2001:db8::/32}",
        "inputs.clusterCIDRs={10.96.0.0/12,10.244.0.0/16}",
        "inputs.assetDir=/srv/assets",
    )
    container = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    settings = settings_from_env({e["name"]: e["value"] for e in container["env"]})
    inputs = settings.inputs
    assert inputs.allowed_hosts == ("minio.storage.svc.cluster.local", "*.cdn.example.com")
    assert inputs.allowed_cidrs == ("172.18.0.1/32",)
    assert inputs.denied_cidrs == ("203.0.113.0/24", "2001:db8::/32")
    assert inputs.cluster_cidrs == ("10.96.0.0/12", "10.244.0.0/16") and inputs.asset_dir == "/srv/assets"
    # The render pod gets them under the pod contract's names and builds the same policy.
    pod = build_job(render_job(), settings)["spec"]["template"]["spec"]["containers"][0]
    policy = InputPolicy.from_env({e["name"]: e["value"] for e in pod["env"] if "value" in e})
    assert policy.allowed_hosts == inputs.allowed_hosts and str(policy.asset_dir) == "/srv/assets"
    assert [str(n) for n in policy.cluster_cidrs] == ["10.96.0.0/12", "10.244.0.0/16"]


@needs_helm
def test_schema_rejects_bad_inputs() -> None:
    for bad in (
        "inputs.allowedCIDRs={not-a-cidr}",
        "inputs.deniedCIDRs={10.0.0.0/8 }",
        "inputs.allowedHosts={http://media.example.com}",
        "inputs.assetDir=relative/assets",
        "inputs.allowAll=true",
    ):
        proc = helm("template", "reelkube", str(CHART), "--set", bad, check=False)
        assert proc.returncode != 0, bad
        assert "schema" in proc.stderr.lower() or "values don't meet" in proc.stderr.lower(), proc.stderr


@needs_helm
def test_storage_tenancy_values_reach_the_operator_and_its_render_pods() -> None:
    default = find(template(), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    settings = settings_from_env({e["name"]: e["value"] for e in default["env"]})
    assert settings.storage.allow_spec_storage is False and settings.inputs.s3_read_prefixes == ()
    docs = template("storage.allowSpecStorage=true", "inputs.s3ReadPrefixes={stock,shared-media/library}")
    container = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    settings = settings_from_env({e["name"]: e["value"] for e in container["env"]})
    assert settings.storage.allow_spec_storage is True
    assert settings.inputs.s3_read_prefixes == ("stock", "shared-media/library")
    pod = build_job(render_job(), settings)["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in pod["env"]}
    assert env["REELKUBE_INPUTS_S3_READ_PREFIXES"]["value"] == "stock,shared-media/library"
    assert env["REELKUBE_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    bad = helm(
        "template", "reelkube", str(CHART), "--set", "inputs.s3ReadPrefixes={Not_A_Bucket}", check=False
    )
    assert bad.returncode != 0 and "s3ReadPrefixes" in bad.stderr


@needs_helm
def test_operator_network_policy_admits_only_its_ports() -> None:
    policy = find(template(), "NetworkPolicy", "reelkube")[0]["spec"]
    deployment = find(template(), "Deployment")[0]["spec"]
    assert policy["podSelector"]["matchLabels"] == deployment["selector"]["matchLabels"]
    assert policy["policyTypes"] == ["Ingress"]
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8080, 8000]
    assert not find(template("networkPolicy.enabled=false"), "NetworkPolicy")
