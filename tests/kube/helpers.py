"""Shared helpers for the lab tests of the Kubernetes backend."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from console.kube import make_kube_backend
from console.kube.backend import KubeBackend
from tests.kube.tcp_proxy import TcpProxy
from tests.lab import sample
from tests.lab.kube import KubeLab

#: Short indefinite pauses: each test drives the steps itself.
FAST_STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 40},
    {"pause": {}},
    {"setWeight": 80},
    {"pause": {}},
]

#: Read rights on the Argo kinds only: every other kind the console reads is 403.
ARGO_READER: list[dict[str, Any]] = [
    {
        "apiGroups": ["argoproj.io"],
        "resources": ["rollouts", "analysisruns"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
]


#: Namespaces made by this session's tests; conftest deletes them after each test.
CREATED: list[str] = []


def deployment(
    ns: str, name: str, labels: Mapping[str, str], image: str, replicas: int
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "serving", "image": image}]},
            },
        },
    }


def service(ns: str, name: str, selector: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": dict(selector), "ports": [{"port": 8501, "name": "http"}]},
    }


def unique_ns(prefix: str) -> str:
    ns = f"{prefix}-{uuid.uuid4().hex[:6]}"
    CREATED.append(ns)
    return ns


def deploy_canary(
    lab: KubeLab, namespace: str, steps: list[dict[str, Any]] | None = None, *, start: bool = True
) -> dict[str, Any]:
    """The lab's tf-serving sample with `steps`, Healthy at v1, then (start) the v2 canary
    held at step 1 (the first pause) with canary weight 20. Returns the Rollout."""
    objs = sample.manifests(namespace)
    for obj in objs:
        if obj["kind"] == "Rollout":
            obj["spec"]["strategy"]["canary"]["steps"] = copy.deepcopy(steps or FAST_STEPS)
            # No GPU requests: the lab's kwok nodes have 12 GPUs in all, and many
            # tests' Rollouts must fit at once.
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container.pop("resources", None)
    lab.apply_yaml(yaml.safe_dump_all(objs, sort_keys=False))
    lab.wait_for(
        lambda: _healthy(sample.get_rollout(lab, namespace)),
        timeout=180,
        what=f"Rollout {namespace}/{sample.NAME} Healthy",
    )
    if start:
        sample.start_canary(lab, namespace)
        wait_rollout(
            lab,
            namespace,
            lambda ro: (
                ro["status"].get("currentStepIndex") == 1
                and bool(ro["status"].get("pauseConditions"))
                and sample.canary_weight(lab, namespace) == 20
            ),
            "canary held at step 1 with weight 20",
        )
    return sample.get_rollout(lab, namespace)


def _healthy(ro: dict[str, Any]) -> bool:
    status = ro.get("status", {})
    return (
        str(status.get("observedGeneration")) == str(ro["metadata"]["generation"])
        and status.get("phase") == "Healthy"
        and status.get("availableReplicas") == sample.REPLICAS
    )


def wait_rollout(
    lab: KubeLab,
    namespace: str,
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 180,
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        nonlocal last
        last = sample.get_rollout(lab, namespace)
        last.setdefault("status", {})
        return last if check(last) else None

    try:
        return lab.wait_for(probe, timeout=timeout, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last status: {last.get('status')}") from None


def stays(check: Callable[[], bool], seconds: float) -> bool:
    """True when `check` holds on every poll for `seconds` (to show nothing moves)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        time.sleep(0.25)
    return True


def backend(
    lab: KubeLab, namespace: str | None, kubeconfig: str | None = None, **kwargs: Any
) -> KubeBackend:
    return make_kube_backend(
        kubeconfig=kubeconfig or str(lab.kubeconfig),
        contexts=[],
        namespace=namespace,
        all_namespaces=namespace is None,
        read_only=False,
        **kwargs,
    )


def proxied_kubeconfig(lab: KubeLab, tmp_path: Path) -> tuple[TcpProxy, Path]:
    """A copy of the lab's kubeconfig whose path to the API server goes through a
    TcpProxy, which a test can cut or freeze. The caller closes the proxy."""
    config = yaml.safe_load(lab.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = tmp_path / "proxied.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return proxy, path
