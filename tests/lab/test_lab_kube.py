"""Proof that the Kubernetes half of the lab is real: pods go Ready on kwok nodes, and the
real Argo Rollouts controller walks a canary and rewrites Istio weights."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.lab import sample
from tests.lab.kube import GPU_RESOURCE, KubeLab

pytestmark = pytest.mark.lab


@pytest.fixture
def namespace(kube_lab: KubeLab, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, deleted afterwards so its pods give their GPUs back.

    Unique, so the tests also pass against a long-running lab from tests/lab/up.
    """
    name = f"lab-{request.node.name[5:20].replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    kube_lab.kubectl("create", "namespace", name)
    yield name
    kube_lab.kubectl("delete", "namespace", name, "--wait=false")


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_kwok_pods_become_ready(kube_lab: KubeLab, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gpu-worker", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "gpu-worker"}},
            "template": {
                "metadata": {"labels": {"app": "gpu-worker"}},
                "spec": {
                    "containers": [
                        {
                            "name": "worker",
                            "image": "tensorflow/serving:2.12.0",
                            "resources": {"limits": {GPU_RESOURCE: "1"}},
                        }
                    ]
                },
            },
        },
    }
    kube_lab.apply_yaml(yaml.safe_dump(deployment))

    def ready_pods() -> list[dict[str, Any]] | None:
        pods = kube_lab.get_json("pods", "-n", namespace, "-l", "app=gpu-worker")["items"]
        ready = [p for p in pods if _ready(p)]
        return ready if len(ready) == 3 else None

    pods = kube_lab.wait_for(ready_pods, timeout=90, what="3 gpu-worker pods Ready")

    for pod in pods:
        # Bound by the real scheduler to a kwok node, given an IP and Running by kwok.
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["phase"] == "Running"
        assert pod["status"].get("podIP")
    deployment_status = kube_lab.get_json("deployment", "gpu-worker", "-n", namespace)["status"]
    assert deployment_status.get("readyReplicas") == 3


def test_argo_walks_canary_steps_and_rewrites_virtualservice(
    kube_lab: KubeLab, namespace: str
) -> None:
    sample.deploy(kube_lab, namespace)
    assert sample.canary_weight(kube_lab, namespace) == 0

    sample.start_canary(kube_lab, namespace)
    seen_steps: list[int] = []

    def at_step(index: int, weight: int) -> bool:
        status = sample.get_rollout(kube_lab, namespace).get("status", {})
        current = status.get("currentStepIndex")
        # Until the controller has seen the new template, the status still shows the
        # finished previous rollout (step 6 of 6): that is not a step of this canary.
        started = status.get("currentPodHash") not in (None, status.get("stableRS"))
        if started and current is not None and (not seen_steps or seen_steps[-1] != current):
            seen_steps.append(current)
        return current == index and sample.canary_weight(kube_lab, namespace) == weight

    # Step 0 (setWeight 10) done, now in the 30 s pause of step 1.
    kube_lab.wait_for(
        lambda: at_step(1, 10), timeout=60, what="Rollout at step 1 with canary weight 10"
    )
    # Past the timed pause and setWeight 30, held at the indefinite pause of step 3.
    kube_lab.wait_for(
        lambda: at_step(sample.INDEFINITE_PAUSE_STEP, 30),
        timeout=90,
        what=f"Rollout at step {sample.INDEFINITE_PAUSE_STEP} with canary weight 30",
    )

    rollout = sample.get_rollout(kube_lab, namespace)
    status = rollout["status"]
    assert seen_steps == sorted(seen_steps), f"steps went backwards: {seen_steps}"
    assert [c["reason"] for c in status.get("pauseConditions", [])] == ["CanaryPauseStep"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Paused"]["status"] == "True", json.dumps(status, indent=1)
    assert status["phase"] == "Paused"

    # The route now sends 30 % to subset v2, whose DestinationRule labels select the
    # canary ReplicaSet's pods by their pod-template hash.
    vs = kube_lab.get_json("virtualservice.networking.istio.io", sample.NAME, "-n", namespace)
    weights = {d["destination"]["subset"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}
    assert weights == {"v1": 70, "v2": 30}
    dr = kube_lab.get_json("destinationrule.networking.istio.io", sample.NAME, "-n", namespace)
    subsets = {s["name"]: s["labels"] for s in dr["spec"]["subsets"]}
    canary_hash = status["currentPodHash"]
    assert subsets["v2"]["rollouts-pod-template-hash"] == canary_hash
    assert subsets["v1"]["rollouts-pod-template-hash"] == status["stableRS"]

    # Argo scales the canary ReplicaSet to the step's share of the replicas.
    def canary_ready() -> int | None:
        pods = kube_lab.get_json(
            "pods", "-n", namespace, "-l", f"rollouts-pod-template-hash={canary_hash}"
        )["items"]
        ready = [p for p in pods if _ready(p)]
        expected = math.ceil(sample.REPLICAS * 30 / 100)
        return len(ready) if len(ready) == expected else None

    kube_lab.wait_for(canary_ready, timeout=60, what="canary pods Ready at 30 %")


def test_service_account_kubeconfig_is_limited_by_rbac(kube_lab: KubeLab, namespace: str) -> None:
    config = kube_lab.create_service_account_kubeconfig(
        namespace,
        "reader",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    )
    # Allowed: its Role grants listing pods in its own namespace.
    kube_lab.kubectl("get", "pods", "-n", namespace, kubeconfig_path=config)
    # Denied by RBAC (not by authentication): another namespace, and writes.
    for args in (["get", "pods", "-n", "default"], ["create", "configmap", "x", "-n", namespace]):
        out = kube_lab.kubectl(*args, kubeconfig_path=config, check=False, stderr=True)
        assert "forbidden" in out.lower(), out
        assert f"system:serviceaccount:{namespace}:reader" in out, out
