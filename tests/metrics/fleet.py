"""Deterministic history for many rollouts at once (cost test and benchmark).

Rollout i (of n) is ``fleet-{i % 10}/svc-{i}``: stable v1 serves i+1 req/s,
the canary v2 a quarter of that with 1 % errors; each version has two pods
with one GPU each. Built on the lab's history generator, so the series are
exactly what the lab's Istio and DCGM imitations export.
"""

from __future__ import annotations

from console.model import Phase, ProviderKind, Role, Rollout, RolloutRef, VersionInfo
from tests.lab.history import VersionHistory, openmetrics_history
from tests.lab.traffic.exposition import Workload


def _workload(ns: str, service: str, version: str) -> Workload:
    return Workload(
        namespace=ns,
        workload=service,  # Argo: one workload name, versions told apart by label
        version=version,
        service=service,
        pods=tuple(f"{service}-{version}hash-{k}x" for k in range(2)),
    )


def fleet(n: int) -> tuple[list[VersionHistory], list[Rollout]]:
    versions: list[VersionHistory] = []
    rollouts: list[Rollout] = []
    for i in range(n):
        ns, service = f"fleet-{i % 10}", f"svc-{i}"
        stable = VersionHistory(
            workload=_workload(ns, service, "v1"),
            rps=float(i + 1),
            error_ratio=0.0,
            latency_shares={5: 0.5, 10: 0.5},
            gpu_util_pct=20.0,
            gpu_mem_mib=2048.0,
        )
        canary = VersionHistory(
            workload=_workload(ns, service, "v2"),
            rps=(i + 1) / 4,
            error_ratio=0.01,
            latency_shares={25: 0.4, 50: 0.5, 100: 0.1},
            gpu_util_pct=60.0,
            gpu_mem_mib=4096.0,
        )
        versions += [stable, canary]
        rollouts.append(
            Rollout(
                ref=RolloutRef("lab", ns, service),
                provider=ProviderKind.ARGO,
                phase=Phase.PROGRESSING,
                stable=VersionInfo(Role.STABLE, label="v1", pods=stable.workload.pods),
                canary=VersionInfo(Role.CANARY, label="v2", pods=canary.workload.pods),
            )
        )
    return versions, rollouts


def fleet_openmetrics(n: int, start: float, end: float, step: float = 15.0) -> str:
    versions, _ = fleet(n)
    return openmetrics_history(versions, start, end, step=step, extra_labels={"job": "fleet"})
