"""Shared bits of the metrics tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.metrics.config import load_config
from console.metrics.prometheus import PrometheusSource
from console.model import (
    Metric,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutMetrics,
    RolloutRef,
    VersionInfo,
)
from tests.lab.history import VersionHistory


class Clock:
    """A settable clock, so range fetches can be pointed into backfilled history."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_source(
    url: str, clock: Callable[[], float] | None = None, **overrides: Any
) -> PrometheusSource:
    source = PrometheusSource(load_config(url=url, **overrides))
    source.check()
    if clock is not None:
        source.clock = clock
    return source


def latest(m: RolloutMetrics, role: Role, metric: Metric) -> float | None:
    version = m.version(role)
    return None if version is None else version.get(metric).latest


def pair_rollout(
    namespace: str, stable: VersionHistory, canary: VersionHistory, name: str = "detector"
) -> Rollout:
    """The progressing Argo Rollout whose versions (v1, v2) a backfilled pair describes."""
    return Rollout(
        ref=RolloutRef("lab", namespace, name),
        provider=ProviderKind.ARGO,
        phase=Phase.PROGRESSING,
        stable=VersionInfo(Role.STABLE, label="v1", pods=stable.workload.pods),
        canary=VersionInfo(Role.CANARY, label="v2", pods=canary.workload.pods),
    )
