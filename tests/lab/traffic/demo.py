"""Prometheus and live traffic for the sample Rollout, for ``tests/lab/up``.

Everything started here is detached (own sessions, pid files under
``workdir``), so ``tests/lab/down`` stops it from the pid files alone.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.lab import sample
from tests.lab.history import VersionHistory, openmetrics_history
from tests.lab.prom import PrometheusLab
from tests.lab.traffic import Behaviour, ServerSpec, TrafficLab
from tests.lab.traffic.exposition import Workload

# The canary image is expected to be somewhat slower and hungrier than stable
# (a bigger model), but healthy: the demo shows a difference, not an incident.
BEHAVIOUR = {
    "v1": Behaviour(latency_base_ms=18, latency_jitter_ms=12, error_ratio=0.001),
    "v2": Behaviour(
        latency_base_ms=30,
        latency_jitter_ms=20,
        error_ratio=0.004,
        gpu_mem_base_mib=7168,
        gpu_mem_growth_mib_per_min=16,
    ),
}
HISTORY_S = 3600.0
LOOKBACK_S = 300.0  # Prometheus' default query lookback delta


def pods_by_version(kubeconfig: Path, namespace: str, app: str) -> dict[str, tuple[str, ...]]:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]
    found: dict[str, list[str]] = {}
    for pod in api.list_namespaced_pod(namespace, label_selector=f"app={app}").items:
        meta = pod.metadata
        if meta is not None and meta.name:
            found.setdefault((meta.labels or {}).get("version", ""), []).append(meta.name)
    return {v: tuple(sorted(names)) for v, names in found.items()}


def start_for_up(
    workdir: Path,
    kubeconfig: Path,
    namespace: str = sample.NAMESPACE,
    name: str = sample.NAME,
    rps: float = 20.0,
) -> str:
    """Start Prometheus (with an hour of stable history) and traffic; return the URL."""
    pods = pods_by_version(kubeconfig, namespace, name)
    workloads = {
        # Istio names an Argo ReplicaSet's workload after the Rollout, so both
        # versions share destination_workload and differ by version label.
        v: Workload(namespace, name, v, service=name, pods=pods.get(v, ()), container=name)
        for v in ("v1", "v2")
    }
    prom = PrometheusLab(workdir)
    now = time.time()
    stable = VersionHistory(
        workload=workloads["v1"],
        rps=rps,
        error_ratio=0.001,
        latency_shares={10: 0.2, 25: 0.7, 50: 0.1},
        gpu_util_pct=45.0,
        gpu_mem_mib=BEHAVIOUR["v1"].gpu_mem_base_mib,
    )
    # Loaded before start, so no restart is needed. It ends more than the
    # 5 min lookback before live data begins: the history series lack the live
    # ones' job/instance labels, and overlapping gauges would be summed twice.
    prom.backfill(openmetrics_history([stable], now - HISTORY_S, now - LOOKBACK_S - 30))
    prom.start()
    traffic = TrafficLab(workdir / "traffic", prom, job="traffic-lab")
    traffic.start_servers([ServerSpec(w, BEHAVIOUR[v]) for v, w in workloads.items() if w.pods])
    traffic.start_loadgen(
        virtualservice=f"{namespace}/{name}",
        kubeconfig=kubeconfig,
        route=sample.ROUTE,
        rps=rps,
        duration=0,  # until tests/lab/down
    )
    return prom.url
