"""The lab's sample workload: TensorFlow Serving behind Istio, released by an Argo Rollout.

It mirrors the practice the console operates (see ../shared/seed-notes.md):
stable pods are ``version: v1``, the canary ``version: v2``, and Istio splits
traffic between DestinationRule subsets of one host with a weighted
VirtualService route that the Argo controller rewrites at each setWeight step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.lab.kube import KubeLab

if TYPE_CHECKING:
    from tests.lab.prom import PrometheusLab
    from tests.lab.traffic import TrafficLab

NAMESPACE = "ml-serving"
NAME = "tf-serving"
ROUTE = "primary"
STABLE_IMAGE = "tensorflow/serving:2.12.0"
CANARY_IMAGE = "tensorflow/serving:2.13.0-gpu"
REPLICAS = 4

# Index i of this list is status.currentStepIndex i.
STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"pause": {"duration": "30s"}},
    {"setWeight": 30},
    {"pause": {}},
    {"setWeight": 60},
    {"pause": {"duration": "30s"}},
]
INDEFINITE_PAUSE_STEP = 3


def _service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": NAME}},
        "spec": {
            "selector": {"app": NAME},
            "ports": [{"name": "http", "port": 8501, "targetPort": "http"}],
        },
    }


def manifests(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Every object of the sample, in apply order."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        # The Istio host, plus the per-version Services Argo points at each ReplicaSet.
        _service(NAME, namespace),
        _service(f"{NAME}-stable", namespace),
        _service(f"{NAME}-canary", namespace),
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {
                "host": NAME,
                "subsets": [
                    {"name": "v1", "labels": {"version": "v1"}},
                    {"name": "v2", "labels": {"version": "v2"}},
                ],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {
                "hosts": [NAME],
                "http": [
                    {
                        "name": ROUTE,
                        "route": [
                            {"destination": {"host": NAME, "subset": "v1"}, "weight": 100},
                            {"destination": {"host": NAME, "subset": "v2"}, "weight": 0},
                        ],
                    }
                ],
            },
        },
        rollout(STABLE_IMAGE, "v1", namespace),
    ]


def rollout(image: str, version: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    gpu = {"nvidia.com/gpu": "1"}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "replicas": REPLICAS,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME, "version": version}},
                "spec": {
                    "containers": [
                        {
                            "name": NAME,
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 8501}],
                            # Extended resources need limits; requests default to them.
                            "resources": {"requests": gpu, "limits": gpu},
                        }
                    ]
                },
            },
            "strategy": {
                "canary": {
                    "stableService": f"{NAME}-stable",
                    "canaryService": f"{NAME}-canary",
                    "trafficRouting": {
                        "istio": {
                            "virtualService": {"name": NAME, "routes": [ROUTE]},
                            "destinationRule": {
                                "name": NAME,
                                "stableSubsetName": "v1",
                                "canarySubsetName": "v2",
                            },
                        }
                    },
                    "steps": STEPS,
                }
            },
        },
    }


def deploy(lab: KubeLab, namespace: str = NAMESPACE, timeout: float = 120) -> None:
    """Apply the sample and wait until the first revision is fully available and Healthy."""
    lab.apply_yaml(yaml.safe_dump_all(manifests(namespace), sort_keys=False))
    lab.wait_for(
        lambda: _healthy(get_rollout(lab, namespace)),
        timeout=timeout,
        what=f"Rollout {namespace}/{NAME} Healthy",
    )


def start_canary(
    lab: KubeLab, namespace: str = NAMESPACE, image: str = CANARY_IMAGE, version: str = "v2"
) -> None:
    """Change the image (and version label): Argo starts walking the canary steps."""
    patch = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image},
        {"op": "replace", "path": "/spec/template/metadata/labels/version", "value": version},
    ]
    lab.kubectl("patch", "rollout", NAME, "-n", namespace, "--type=json", "-p", json.dumps(patch))


def get_rollout(lab: KubeLab, namespace: str = NAMESPACE) -> dict[str, Any]:
    rollout_obj: dict[str, Any] = lab.get_json("rollout", NAME, "-n", namespace)
    return rollout_obj


def canary_weight(lab: KubeLab, namespace: str = NAMESPACE) -> int:
    """The v2 subset's weight in the VirtualService route, as Istio would read it."""
    vs = lab.get_json("virtualservice.networking.istio.io", NAME, "-n", namespace)
    for http in vs["spec"]["http"]:
        if http.get("name") == ROUTE:
            for dest in http["route"]:
                if dest["destination"].get("subset") == "v2":
                    return int(dest.get("weight", 0))
    raise LookupError(f"VirtualService {NAME} has no v2 destination in route {ROUTE}")


def _healthy(rollout_obj: dict[str, Any]) -> bool:
    status = rollout_obj.get("status", {})
    return (
        str(status.get("observedGeneration")) == str(rollout_obj["metadata"]["generation"])
        and status.get("phase") == "Healthy"
        and status.get("availableReplicas") == REPLICAS
    )


def wait_at_indefinite_pause(lab: KubeLab, namespace: str, timeout: float = 180) -> None:
    """Deploy, start the canary and wait until the controller holds it at step 3 (30 %)."""
    deploy(lab, namespace)
    start_canary(lab, namespace)

    def held() -> bool:
        status = get_rollout(lab, namespace).get("status", {})
        return status.get("currentStepIndex") == INDEFINITE_PAUSE_STEP and bool(
            status.get("pauseConditions")
        )

    lab.wait_for(held, timeout=timeout, what=f"{namespace}/{NAME} at its indefinite pause")


def serve_bad_canary(
    lab: KubeLab,
    prom: PrometheusLab,
    namespace: str,
    stable_pods: tuple[str, ...],
    canary_pods: tuple[str, ...],
    workdir: Path,
    *,
    job: str,
    duration: float,
) -> TrafficLab:
    """Model servers for the sample's versions (v1 healthy, v2 slow with 10 % errors)
    under the kwok pods' names, and load split by the live VirtualService weights.

    The caller stops the returned lab.
    """
    from tests.lab.traffic import Behaviour, ServerSpec, TrafficLab
    from tests.lab.traffic.exposition import Workload

    def workload(version: str, pods: tuple[str, ...]) -> Workload:
        return Workload(namespace, NAME, version, NAME, pods=pods)

    traffic = TrafficLab(workdir, prom, job=job)
    try:
        traffic.start_servers(
            [
                ServerSpec(workload("v1", stable_pods), Behaviour(latency_base_ms=15)),
                ServerSpec(
                    workload("v2", canary_pods),
                    Behaviour(latency_base_ms=150, latency_jitter_ms=60, error_ratio=0.10),
                    seed=3,
                ),
            ]
        )
        traffic.start_loadgen(
            virtualservice=f"{namespace}/{NAME}",
            kubeconfig=lab.kubeconfig,
            route=ROUTE,
            rps=40,
            duration=duration,
        )
    except BaseException:
        traffic.stop()
        raise
    return traffic
