"""deploy/kubernetes/, checked offline: every object against the Kubernetes schemas (kubernetes-validate),
the KEDA objects against KEDA's own (node, @kubernetes-models/keda), and what the manifests promise."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.settings import Settings
from tests.conftest import ROOT

KUBE = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"


def objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    found = []
    for name in kustomization["resources"]:
        found += [doc for doc in yaml.safe_load_all((KUBE / name).read_text()) if doc]
    return found


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in by_kind(kind) if o["metadata"]["name"] == name]
    return found


def test_kustomization_lists_every_manifest_in_the_directory() -> None:
    listed = set(yaml.safe_load((KUBE / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_every_kubernetes_object_validates_against_the_schemas_strictly() -> None:
    checked = 0
    for item in objects():
        if item["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)  # raises on the first problem
        checked += 1
    assert checked >= 10


def test_a_broken_object_is_caught() -> None:
    worker = json.loads(json.dumps(named("Deployment", "claude-workers-worker")))
    worker["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, KUBERNETES_VERSION, strict=True)


def keda(items: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed (make setup installs the npm packages)"
    return subprocess.run(
        [node, str(ROOT / "tests" / "deploy" / "validate_keda.mjs")],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_keda_objects_validate_against_kedas_schema() -> None:
    items = [o for o in objects() if o["apiVersion"].startswith("keda.sh/")]
    assert {o["kind"] for o in items} == {"ScaledObject", "TriggerAuthentication"}
    done = keda(items)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = json.loads(json.dumps(named("ScaledObject", "claude-workers-worker")))
    broken["spec"]["triggers"] = "metrics-api"
    assert keda([broken]).returncode == 1


def test_the_worker_deployment_keeps_the_products_promises() -> None:
    worker = named("Deployment", "claude-workers-worker")["spec"]["template"]["spec"]
    [container] = worker["containers"]
    config = named("ConfigMap", "claude-workers")["data"]
    # a running job gets its shutdown grace before Kubernetes kills the pod
    grace = float(config.get("CLAUDE_SHUTDOWN_GRACE") or Settings(_env_file=None).claude_shutdown_grace)  # type: ignore[call-arg]
    assert worker["terminationGracePeriodSeconds"] >= grace + 30
    # not root; a login or a usage limit never restarts it: readiness on /health, liveness on /live
    assert worker["securityContext"]["runAsNonRoot"] is True and worker["securityContext"]["runAsUser"] == 10001
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # its own config dir, no shared volume: the login arrives through Redis, encrypted
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in worker["volumes"]}
    assert "emptyDir" in volumes[mounts["/root/.config/claude"]]
    secret_env = {e["name"] for e in container["env"] if "valueFrom" in e}
    assert "CLAUDE_WORKERS_SECRET_KEY" in secret_env
    # requests cover the measured memory of a running CLI job (about 250 MB) and the worker
    assert container["resources"]["requests"]["memory"].endswith("Mi")
    assert int(container["resources"]["requests"]["memory"][:-2]) >= 400


def test_keda_scales_the_worker_on_runnable_jobs_through_the_api() -> None:
    scaled = named("ScaledObject", "claude-workers-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "claude-workers-worker"
    assert scaled["minReplicaCount"] >= 1  # the probe that reopens the gate needs a worker
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "metrics-api" and trigger["metadata"]["valueLocation"] == "queues.runnable"
    api = named("Service", "claude-workers-api")
    assert (
        f"{api['metadata']['name']}.claude-workers.svc:{api['spec']['ports'][0]['port']}/fleet"
        in (trigger["metadata"]["url"])
    )
    assert named("TriggerAuthentication", trigger["authenticationRef"]["name"])


def test_redis_keeps_an_aof_on_a_volume_and_only_fleet_pods_reach_it() -> None:
    redis = named("StatefulSet", "claude-workers-redis")["spec"]
    assert "--appendonly" in redis["template"]["spec"]["containers"][0]["args"]
    assert redis["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    policy = named("NetworkPolicy", "claude-workers-redis")["spec"]
    allowed = {f["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for f in policy["ingress"][0]["from"]}
    assert allowed == {"claude-workers-worker", "claude-workers-api"}
    assert named("PodDisruptionBudget", "claude-workers-worker")["spec"]["maxUnavailable"] == 1


def test_no_secret_value_is_in_the_manifests() -> None:
    assert not by_kind("Secret")
    text = "\n".join(p.read_text() for p in KUBE.glob("*.yaml"))
    assert "sk-ant-" not in text and "stringData" not in text


def test_docs_walk_through_the_manifests(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "kubernetes.md").read_text()
    for step in (
        "kubectl create namespace claude-workers",
        "create secret generic claude-workers",
        "kubectl apply -k deploy/kubernetes",
        "python -m app.claude_auth_manager setup",
    ):
        assert step in guide, step
